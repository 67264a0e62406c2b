// Service discovery inside `moor daemon`: the catalog, the agent, the
// registrar fed by the engine's events and stop hook, templates, the DNS
// server and the Consul-compatible API (on the daemon's socket, and on TCP).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "common/error.h"
#include "engine/engine.h"

namespace moor::engine {

struct DiscoveryConfig {
  bool enabled = true;
  // "" entries are replaced by the default bridge gateway; empty list = none.
  std::vector<std::string> dns_listen = {":53"};
  std::vector<std::string> dns_upstreams;  // empty: the host's /etc/resolv.conf nameservers
  std::string domain = "moor";
  uint32_t dns_ttl = 0;
  std::vector<std::string> consul_listen = {":8500"};
  std::string node_name;  // "" = host name
  int64_t reconcile_interval_ns = 10'000'000'000;
};

// Parses "IP:PORT" / ":PORT" (gateway) lists from flags; "none" → empty.
// Exposed for the daemon's flag parsing and its tests.
Result<std::vector<std::string>> ParseListenList(const std::vector<std::string>& values, const std::string& flag);

// A container's service registration as GET /v1/moor/registration/{id}
// shows it (docs/api.md), read without the release gate: a new release's
// instances are hidden from traffic until its commit, yet must be seen
// passing for readiness.
struct RegistrationView {
  struct Instance {
    std::string id;       // the instance's service id
    std::string service;  // the service's name
    // pending (its check has not passed yet), passing, warning, critical or
    // absent (not running, or deregistered before a stop)
    std::string status;
    std::string output;  // the last non-passing check's output ("" when passing)
  };
  struct Template {
    std::string destination;
    bool rendered = false;  // written into the container at least once
    std::string error;      // the last render error, or why it is not loaded
  };
  std::string container;            // the container's name
  std::vector<Instance> instances;  // none: the container is not a service
  std::vector<Template> templates;
};

class DiscoveryService {
 public:
  // Starts everything. The DNS and TCP API addresses are bound at once
  // (IP_FREEBIND: the bridge may come up later); an address in use is an
  // error naming it and the flag to change it.
  static Result<std::unique_ptr<DiscoveryService>> Start(Engine& engine, DiscoveryConfig cfg);
  ~DiscoveryService();  // stops threads and servers; registrations are not kept (rebuilt at start)

  // /v1/... (Consul) and /discovery/info on the daemon's router.
  void AddRoutes(api::Router& router);
  // The DNS server address containers should use ("" = none reachable).
  std::string ContainerResolver() const;

  // The ungated registration of container `id` (name or id). ENOENT "no such
  // container: ID" when the engine does not know it.
  Result<RegistrationView> Registration(const std::string& id) const;
  // Gates catalog service `service` to `release` ("" lifts the gate):
  // templates, DNS, the Consul health/catalog endpoints and Prometheus SD
  // then show only that release's instances (all of them while none of those
  // passes). Returns the catalog index of the change, for WaitTemplates.
  // EINVAL: empty service name.
  Result<uint64_t> SetReleaseGate(const std::string& service, const std::string& release);
  // True once every template reading `service` has rendered from catalog
  // index `index` or later and sent its reload signal (or had nothing to
  // change); false after `timeout_ns`.
  bool WaitTemplates(const std::string& service, uint64_t index, int64_t timeout_ns);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::engine
