// The discovery data model: a node, its service instances, their checks,
// and key/value entries — the shapes Consul's API serves, kept as plain
// structs so the catalog, the DNS responder, the API and the templates share
// them without depending on each other.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moor::discovery {

// Consul's check states. A service's health is the worst of its checks
// (critical > warning > passing); a service without checks is passing.
enum class Health { kPassing = 0, kWarning = 1, kCritical = 2 };
std::string_view HealthName(Health h);  // "passing" | "warning" | "critical"
std::optional<Health> ParseHealth(std::string_view s);

struct Node {
  std::string id;    // UUID-shaped, stable per daemon root
  std::string name;  // the host name unless configured
  std::string address;  // advertised address (DNS/API address of the node)
  std::string datacenter = "dc1";
  std::map<std::string, std::string> meta;
};

// How a check probes. One of:
//   tcp      connect to `target` ("IP:PORT")
//   http     GET `target` (a URL, http:// or https://); passing on 2xx (or
//            `expect_status`), and when `body_match` is set the body must
//            contain it; warning on 429 as Consul does
//   fastcgi  speak FastCGI to `target` ("IP:PORT") for script `path`
//            (PHP-FPM's ping.path); passing on status 200 (or
//            `expect_status`) and `body_match` if set
//   exec     run `args` inside container `container_id` (exit 0 passing,
//            1 warning, other critical: Consul's script semantics)
//   ttl      no probe: updated through the API; critical after `ttl_ns`
//            without an update
//   docker   mirrors the container's own HEALTHCHECK status (engine-run);
//            the registrar feeds it, the runner never probes it
struct CheckDef {
  std::string id;    // unique on the node ("service:<service id>" by default)
  std::string name;  // human name ("Service 'php' check")
  std::string type;  // tcp | http | fastcgi | exec | ttl | docker
  std::string target;
  std::string path;                // fastcgi: SCRIPT_NAME/SCRIPT_FILENAME, e.g. "/ping"
  std::vector<std::string> args;   // exec
  std::string container_id;        // exec
  std::string method = "GET";      // http
  std::map<std::string, std::string> headers;  // http
  int expect_status = 0;           // 0 = http: any 2xx; fastcgi: 200
  std::string body_match;          // "" = no body condition
  bool tls_skip_verify = false;    // https
  int64_t interval_ns = 10'000'000'000;
  int64_t timeout_ns = 5'000'000'000;
  // While the check has never passed it runs at this faster cadence (so a
  // fresh container is registered as soon as it is ready); 0 = interval_ns.
  int64_t start_interval_ns = 250'000'000;
  int64_t ttl_ns = 0;                   // ttl
  int success_before_passing = 0;       // consecutive passes needed (Consul's semantics)
  int failures_before_critical = 0;     // consecutive failures needed
  int64_t deregister_critical_after_ns = 0;  // 0 = never
  Health initial = Health::kCritical;
  std::string notes;
};

struct CheckState {
  CheckDef def;
  std::string service_id;    // "" = a node-level check
  std::string service_name;
  Health status = Health::kCritical;
  std::string output;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  int64_t critical_since_ns = 0;  // CLOCK_MONOTONIC ns; 0 = not critical
};

struct ServiceInstance {
  std::string id;    // unique on the node
  std::string name;  // the service's name (DNS label-safe: [a-z0-9-])
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  std::string address;
  int port = 0;
  // "container": derived from a running container by the registrar (not
  // persisted; rebuilt from what runs). "external": registered through the
  // API/CLI (persisted).
  std::string source = "external";
  std::string container_id;
  std::string container_name;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};

struct KvEntry {
  std::string key;
  std::string value;  // raw bytes
  uint64_t flags = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t lock_index = 0;
};

struct ContainerAddress {
  std::string id;
  std::string name;  // without "/"
  std::string ip;    // IPv4 on its moor network
};

// A service instance with its checks and aggregated health, as
// /v1/health/service/:name returns it.
struct InstanceHealth {
  ServiceInstance service;
  std::vector<CheckState> checks;
  Health health = Health::kPassing;
};

// DNS-label-safe service name: lower-case, [a-z0-9-], other runs → '-',
// trimmed of '-', at most 63 bytes; "" if nothing is left.
std::string SanitizeServiceName(std::string_view s);

}  // namespace moor::discovery
