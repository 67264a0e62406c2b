// The local agent: what Consul's /v1/agent endpoints and `moor service`
// do — register and deregister services and checks, feed TTL checks — and
// the glue between the check runner and the catalog. The registrar uses it
// for container instances, which enter the catalog only once their check
// first passes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "discovery/catalog.h"
#include "discovery/check_runner.h"
#include "discovery/container_ops.h"

namespace moor::discovery {

class Agent {
 public:
  Agent(Catalog& catalog, ContainerOps* ops);
  ~Agent();

  Catalog& catalog() { return catalog_; }

  // Registers (or replaces) an external service with its checks, persisted;
  // its checks start running. Fills defaults: id = name, check ids
  // "service:<id>[:N]", check names. EINVAL with a one-line message for a
  // bad definition (nothing registered).
  Result<void> RegisterService(ServiceInstance svc, std::vector<CheckDef> checks);
  // ENOENT if unknown; EPERM for a container's instance (it belongs to the
  // container: stop it or remove its label).
  Result<void> DeregisterService(const std::string& service_id);
  // A check on an existing service ("" = node check).
  Result<void> RegisterCheck(const std::string& service_id, CheckDef def);
  Result<void> DeregisterCheck(const std::string& check_id);
  // /v1/agent/check/pass|warn|fail and /v1/agent/check/update: TTL checks only.
  Result<void> UpdateTtl(const std::string& check_id, Health status, const std::string& output);

  // Container instances (registrar). The instance is added to the catalog
  // when its check reports passing for the first time; later results update
  // the catalog's check. With no checks it is added at once.
  void AddContainerInstance(ServiceInstance svc, std::vector<CheckDef> checks);
  // For engine HEALTHCHECK-mirroring ("docker") checks.
  void SetDockerCheck(const std::string& check_id, Health status, const std::string& output);
  // Removes the container's instances (pending or registered) and stops their checks.
  void RemoveContainer(const std::string& container_id);
  // Instance ids pending (registered with the runner, not yet passing).
  std::vector<std::string> Pending() const;

 private:
  void OnCheck(const std::string& check_id, Health status, const std::string& output);

  Catalog& catalog_;
  ContainerOps* ops_;
  mutable std::mutex mu_;
  struct PendingInstance {
    ServiceInstance svc;
    std::vector<CheckDef> checks;
  };
  std::map<std::string, PendingInstance> pending_;              // by service id
  std::map<std::string, std::string> check_owner_;              // check id → service id (container instances)
  std::unique_ptr<CheckRunner> runner_;
};

}  // namespace moor::discovery
