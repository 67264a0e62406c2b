// Service discovery inside `moor daemon`: the catalog, the agent, the
// registrar fed by the engine's events and stop hook, templates, the DNS
// server and the Consul-compatible API (on the daemon's socket, and on TCP).
#pragma once

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

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::engine
