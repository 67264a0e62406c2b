// The catalog: the node's service instances, their checks, and the KV store,
// with Consul's modify indexes and blocking waits. Owned by the daemon.
//
// Every mutation takes the next index from one counter (Consul's Raft index
// analogue) and stamps what it touched; index queries let a blocking API
// request wait for "something this query depends on changed after N".
// External services, their checks and KV entries are persisted when a store
// is attached (SQLite, its own file); container-derived instances are not —
// the registrar rebuilds them from what runs. The index counter itself is
// persisted so indexes never go backwards across daemon restarts.
//
// Thread-safe: one mutex; watchers are called after the mutex is released,
// on the mutating thread, in index order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "discovery/types.h"

namespace moor::discovery {

class Catalog {
 public:
  explicit Catalog(Node node);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Opens (creating) the SQLite file and loads persisted external services,
  // their checks (status restored) and KV entries. Later mutations of those
  // are written through. Call once, before use.
  Result<void> AttachStore(const std::string& db_path);

  const Node& node() const { return node_; }

  // ---- services and checks -------------------------------------------
  // Upserts an instance by id with its checks (replacing the instance's
  // previous checks). A check whose id already exists keeps its current
  // status and output unless `reset_checks`; new checks start at
  // def.initial. Fills create/modify indexes. EINVAL: empty id/name, port
  // outside 0..65535, a check id used by another service.
  Result<void> Register(ServiceInstance svc, std::vector<CheckDef> checks, bool reset_checks = false);
  // ENOENT if unknown. Removes its checks too.
  Result<void> Deregister(const std::string& service_id);
  // Removes every "container"-source instance of a container (any service).
  // Returns the ids removed.
  std::vector<std::string> DeregisterContainer(const std::string& container_id);

  std::optional<ServiceInstance> Instance(const std::string& service_id) const;
  std::vector<ServiceInstance> Instances() const;  // all, sorted by name then id
  // Service name → union of its instances' tags (sorted, unique).
  std::map<std::string, std::vector<std::string>> ServiceNames() const;
  // Instances of `name` (with checks and health), optionally only those
  // carrying `tag` and/or whose health is passing. Sorted by id. `gated`:
  // through the service's release gate (SetReleaseGate) — what templates,
  // DNS, the Consul health/catalog endpoints and Prometheus SD read; false
  // sees every instance (readiness of instances not yet released).
  std::vector<InstanceHealth> Health(const std::string& name, const std::string& tag = "", bool passing_only = false,
                                     bool gated = true) const;
  // Instances for the DNS responder: not critical (passing or warning),
  // optionally carrying `tag`. Gated like Health.
  std::vector<ServiceInstance> Usable(const std::string& name, const std::string& tag = "") const;

  // ---- release gate (rolling deploys) -------------------------------------
  // The ServiceMeta key holding an instance's release (the registrar copies
  // the container label moor.service.meta.moor-release into it).
  static constexpr const char* kReleaseMeta = "moor-release";
  // Gates service `name` to `release` ("" lifts the gate). While set, gated
  // reads see only the instances whose meta "moor-release" equals it, and
  // every instance when none of those is passing (fail-open: a broken
  // release never empties the service). The decision is per service, tags
  // aside. Kept in memory only (the deploy ledger re-applies it at start).
  // A change bumps the service's index and returns it (blocking queries
  // and templates wake); no change returns ServiceIndex(name).
  // EINVAL: empty name.
  Result<uint64_t> SetReleaseGate(const std::string& name, const std::string& release);
  // The release `name` is gated to; "" when not gated.
  std::string ReleaseGate(const std::string& name) const;

  // Node-level checks are allowed too (service_id ""). ENOENT: unknown service.
  Result<void> AddCheck(const std::string& service_id, CheckDef def);
  Result<void> RemoveCheck(const std::string& check_id);  // ENOENT if unknown
  // Sets a check's status and output; bumps indexes only if either changed.
  // ENOENT if unknown.
  Result<void> UpdateCheck(const std::string& check_id, discovery::Health status, const std::string& output);
  std::optional<CheckState> Check(const std::string& check_id) const;
  std::vector<CheckState> Checks() const;  // all, sorted by id
  // Deregisters services having a check critical for longer than its
  // deregister_critical_after (now_ns: CLOCK_MONOTONIC). Returns the ids.
  std::vector<std::string> ReapCritical(int64_t now_ns);

  // ---- container addresses (CONTAINER.container.moor, reverse lookups) -----
  // Every running container with an IP, kept by the registrar whether or
  // not it provides a service. Upsert by id; changes bump Index() only.
  void SetContainer(ContainerAddress a);
  void RemoveContainer(const std::string& container_id);
  std::vector<ContainerAddress> Containers() const;  // sorted by name
  std::optional<ContainerAddress> ContainerByName(const std::string& name) const;
  std::optional<ContainerAddress> ContainerByIp(const std::string& ip) const;

  // ---- KV -----------------------------------------------------------------
  std::optional<KvEntry> KvGet(const std::string& key) const;
  std::vector<KvEntry> KvList(const std::string& prefix) const;  // sorted by key
  // cas: 0 = only if absent; N = only if modify_index == N. False when the
  // cas condition failed (nothing changed). EINVAL: empty key or > 512 bytes
  // of value... (limit 512 KiB as Consul).
  Result<bool> KvPut(const std::string& key, const std::string& value, uint64_t flags,
                     std::optional<uint64_t> cas = std::nullopt);
  // recurse: every key with the prefix. cas only without recurse. False when
  // cas failed. Deleting a missing key succeeds (true), as Consul.
  Result<bool> KvDelete(const std::string& key, bool recurse, std::optional<uint64_t> cas = std::nullopt);

  // ---- indexes and blocking ----------------------------------------------
  uint64_t Index() const;          // last index of any change (≥ 1)
  uint64_t ServicesIndex() const;  // the set of services or their tags changed
  uint64_t ServiceIndex(const std::string& name) const;  // instances/checks of `name` (also after removal)
  uint64_t ChecksIndex() const;    // any check or service (agent endpoints, health/state)
  uint64_t NodesIndex() const;
  // Highest modify index of the key or, with prefix=true, any key under the
  // prefix — deletions included (tombstones). ≥ 1.
  uint64_t KvIndex(const std::string& key_or_prefix, bool prefix) const;

  // Blocks until current() > index, the deadline passes, or cancelled()
  // returns true (polled at least every 200 ms). Returns current().
  // current() is called with the catalog mutex NOT held.
  uint64_t WaitFor(const std::function<uint64_t()>& current, uint64_t index,
                   std::chrono::steady_clock::time_point deadline,
                   const std::function<bool()>& cancelled = {}) const;

  // Called after every change with the new index (without the mutex held).
  // Returns a handle for Unwatch. Watchers must be quick (notify a thread).
  // const: watching is reading (the DNS server holds a const Catalog&).
  int Watch(std::function<void(uint64_t index)> fn) const;
  void Unwatch(int handle) const;

 private:
  struct Impl;
  Node node_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::discovery
