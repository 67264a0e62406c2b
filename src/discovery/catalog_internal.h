// Private to the catalog's .cc files: the state behind Catalog::Impl, the
// SQLite store that persists external services, their checks, KV entries and
// the index counter, and the JSON forms the store keeps.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "discovery/catalog.h"
#include "store/sqlite.h"

namespace moor::discovery {

nlohmann::json CheckDefToJson(const CheckDef& d);
Result<CheckDef> CheckDefFromJson(const nlohmann::json& j);
// The instance's fields; with_indexes=false leaves create/modify indexes out
// (so two JSON forms compare equal when only the indexes differ).
nlohmann::json InstanceToJson(const ServiceInstance& s, bool with_indexes = true);
Result<ServiceInstance> InstanceFromJson(const nlohmann::json& j);

// The catalog's own SQLite file. Called with the catalog mutex held.
class CatalogStore {
 public:
  static Result<std::unique_ptr<CatalogStore>> Open(const std::string& path);

  struct Loaded {
    std::vector<ServiceInstance> services;
    std::vector<CheckState> checks;
    std::vector<KvEntry> kv;
    uint64_t index = 0;  // the persisted index high-water mark
  };
  Result<Loaded> Load();

  Result<store::Transaction> Begin() { return store::Transaction::Begin(db_); }
  Result<void> PutService(const ServiceInstance& s);
  Result<void> DeleteService(const std::string& id);
  Result<void> PutCheck(const CheckState& c);
  Result<void> DeleteCheck(const std::string& id);
  Result<void> PutKv(const KvEntry& e);
  Result<void> DeleteKv(const std::string& key);
  Result<void> SetIndex(uint64_t index);

 private:
  explicit CatalogStore(store::Database db) : db_(std::move(db)) {}
  store::Database db_;
};

struct Catalog::Impl {
  mutable std::mutex mu;
  mutable std::condition_variable cv;

  uint64_t index = 1;
  uint64_t services_index = 1;
  uint64_t checks_index = 1;
  uint64_t nodes_index = 1;
  // Kept after a name's last instance goes, so a blocking query on a
  // vanished service wakes.
  std::map<std::string, uint64_t> service_name_index;

  std::map<std::string, ServiceInstance> services;  // by id
  std::map<std::string, CheckState> checks;         // by check id
  std::map<std::string, ContainerAddress> containers;  // by container id

  // Service name → the release its gated reads show (never "").
  std::map<std::string, std::string> release_gates;

  std::map<std::string, KvEntry> kv;
  // key → index of its deletion, so prefix indexes cover deletions. Capped:
  // the oldest are dropped and kv_floor remembers the highest index dropped.
  std::map<std::string, uint64_t> kv_tombstones;
  uint64_t kv_floor = 1;

  std::unique_ptr<CatalogStore> store;
  // Indexes up to this one are covered by the persisted high-water mark.
  uint64_t index_reserved = 0;

  // Watchers: called outside `mu`, serialised by notify_mu (recursive so a
  // watcher may Watch/Unwatch or mutate the catalog itself).
  std::map<int, std::shared_ptr<std::function<void(uint64_t)>>> watchers;
  int next_watch = 1;
  std::recursive_mutex notify_mu;
  uint64_t last_notified = 0;

  // Takes the next index (mu held). Persists a new high-water mark every
  // kIndexReserve indexes so the counter never goes backwards across a
  // restart without a write per mutation.
  uint64_t Bump();
  // Touches everything a change of service `name` (instances or checks)
  // is visible through; `set_changed`: the set of services or their tags.
  void TouchService(const std::string& name, uint64_t idx, bool set_changed);
  bool Persisted(const ServiceInstance& s) const { return store && s.source != "container"; }
  // Whether a check is written to the store: node checks and checks of
  // persisted services.
  bool CheckPersisted(const CheckState& c) const;
  // Removes a service and its checks from memory (mu held; no store write).
  void EraseService(const std::string& id, uint64_t idx);
  // Node checks count for every instance's health (as in Consul), so their
  // changes touch every service name.
  void TouchNodeCheck(uint64_t idx);
  // Applies service `name`'s release gate to `all` (every instance of the
  // name, tags aside) in place: keeps the gated release's instances when one
  // of them is passing, otherwise leaves all (mu held).
  void ApplyReleaseGate(const std::string& name, std::vector<InstanceHealth>& all) const;
  // Wakes WaitFor and calls the watchers with the latest index. Call with
  // `mu` NOT held, after every mutation.
  void Notify();
};

// Index-reservation step (see Impl::Bump).
inline constexpr uint64_t kIndexReserve = 1024;

// CLOCK_MONOTONIC now, in ns.
int64_t MonotonicNowNs();

}  // namespace moor::discovery
