// Networks: the default "bridge" network and user-defined bridge networks,
// their records in the state store, IP leases (persistent, never handed out
// twice, released when the container is removed) and the plumbing of a
// container into its network at start (pinned netns + veth pair) and out of
// it at stop. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/container_record.h"
#include "engine/engine_config.h"
#include "net/netlink.h"
#include "net/subnet.h"
#include "store/state_store.h"

namespace moor::engine {

struct NetworkInfo {
  std::string id;
  std::string name;
  std::string driver = "bridge";
  std::string subnet;   // "10.89.0.0/16"
  std::string gateway;  // "10.89.0.1"
  std::string bridge;   // interface name
  std::string created;
  std::map<std::string, std::string> labels;
  bool internal = false;  // no masquerade
};

std::string NetworkToJson(const NetworkInfo& n);
Result<NetworkInfo> NetworkFromJson(const std::string& json);

class NetworkManager {
 public:
  NetworkManager(const EngineConfig& cfg, store::StateStore& store, net::Netlink& netlink);

  // Makes sure the default network exists in the store (its bridge is made
  // lazily, at the first container start).
  Result<void> Init();

  // Name unique; subnet "" → the first free 10.90.N.0/24; overlapping subnets
  // are refused.
  Result<NetworkInfo> Create(const std::string& name, const std::string& subnet, const std::string& gateway,
                             const std::map<std::string, std::string>& labels, bool internal);
  // Error 409 (EBUSY) while containers use it; the default network cannot be removed.
  Result<void> Remove(const std::string& name_or_id, bool in_use);
  Result<NetworkInfo> Get(const std::string& name_or_id);
  Result<std::vector<NetworkInfo>> List();

  // Leases an address (or the requested one) for a container.
  Result<Endpoint> Allocate(const std::string& network, const std::string& container_id,
                            const std::string& requested_ip);
  Result<void> ReleaseAll(const std::string& container_id);

  // The network's bridge (with its gateway address, masquerade and isolation
  // rules) made now rather than at the first container start: the daemon's
  // DNS and Consul listeners on the default gateway must be reachable from
  // every network before a container uses the default one.
  Result<void> EnsureBridge(const std::string& name_or_id);

  // At start: bridge (and masquerade) ensured, netns pinned at
  // run_root/netns/ID, veth into it with the endpoint's address. Returns the
  // netns path. On failure nothing is left.
  Result<std::string> Plumb(const std::string& container_id, const Endpoint& ep);
  // At stop: deletes the veth and the netns pin. Idempotent.
  Result<void> Unplumb(const std::string& container_id, const std::string& netns_path);

  static std::string VethName(const std::string& container_id) { return "mv" + container_id.substr(0, 11); }

 private:
  Result<NetworkInfo> GetLocked(const std::string& name_or_id);
  Result<void> EnsureBridgeLocked(const NetworkInfo& n);
  const EngineConfig& cfg_;
  store::StateStore& store_;
  net::Netlink& netlink_;
  std::mutex mu_;
};

}  // namespace moor::engine
