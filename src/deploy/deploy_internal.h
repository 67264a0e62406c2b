// Shared state of the deploy service's files (deploy_service.cc: sessions,
// services, tokens; deploy_switch.cc: commit, rollback, the two strategies;
// deploy_maintenance.cc: recovery, retention; deploy_routes.cc: HTTP).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "deploy/deploy_service.h"

namespace moor::deploy {

// The record `moor up` PUTs for a service with `code:` (docs/api.md), parsed.
struct ServiceConfig {
  std::string strategy = "reload";
  int batch = 1;
  std::string reload_signal = "SIGUSR2";
  int replicas = 1;
  std::string image;
  std::string code_path = "/srv/app";
  std::string config_digest;
  std::string digest;          // moor.app.digest of a replica before the release is folded in
  std::string discovery_name;  // the catalog name of its instances ("" = not registered)
  int64_t stop_timeout_ns = 10'000'000'000;
  nlohmann::json body = nlohmann::json::object();  // a replica's create body, without release binds
  nlohmann::json files = nlohmann::json::array();  // [{path, content, mode}] copied in before start
};

Result<ServiceConfig> ParseServiceConfig(const nlohmann::json& j);

struct DeployService::Impl {
  DeployOptions opts;
  BackendFactory backends;
  ReleaseGate* gate = nullptr;
  std::unique_ptr<ReleaseStore> store;
  std::unique_ptr<Ledger> ledger;

  std::mutex ledger_mu;  // one ledger call at a time
  std::mutex locks_mu;
  std::map<std::string, std::shared_ptr<std::mutex>> switch_locks;  // "app/svc" → held while switching
  std::mutex written_mu;
  std::map<std::string, std::vector<image::Digest>> written;  // session → blobs and trees it wrote
  // Sessions whose written list is incomplete (a pack failed half way, or the
  // upload began before this daemon started): their commit syncs everything.
  std::set<std::string> unsure;

  // Ledger access under ledger_mu.
  template <class F>
  auto L(F&& f) {
    std::lock_guard<std::mutex> g(ledger_mu);
    return f(*ledger);
  }

  std::shared_ptr<std::mutex> SwitchLock(const std::string& app, const std::string& svc);
  // The service's record, or ENOENT "no service …: run moor up first".
  Result<std::pair<ServiceRecord, ServiceConfig>> Service(const std::string& app, const std::string& svc);
  // The session's release row, or ENOENT.
  Result<ReleaseRow> SessionRow(const std::string& session);
  void NoteWritten(const std::string& session, const std::vector<image::Digest>& d);

  // deploy_switch.cc
  // Switches the service to `row` (materialised), as `kind` (deploy | rollback | image).
  Result<void> Switch(const ServiceRecord& rec, const ServiceConfig& cfg, const ReleaseRow& row,
                      const std::string& kind, const std::string& who, const ProgressFn& progress);
  Result<void> ReloadSwitch(app::AppBackend& b, const ServiceRecord& rec, const ServiceConfig& cfg,
                            const ReleaseRow& row, const std::string& kind, const std::string& who,
                            const ProgressFn& progress);
  Result<void> RollingSwitch(app::AppBackend& b, const ServiceRecord& rec, const ServiceConfig& cfg,
                             const ReleaseRow& row, const std::string& kind, const std::string& who,
                             const ProgressFn& progress);
  // The service's containers (labels moor.app / moor.app.service).
  Result<std::vector<app::ContainerStatus>> Containers(app::AppBackend& b, const std::string& app,
                                                       const std::string& svc);
  // Sends the reload signal to the running containers of the service.
  std::vector<std::string> SignalAll(app::AppBackend& b, const ServiceRecord& rec, const ServiceConfig& cfg,
                                     const std::vector<app::ContainerStatus>& cs);
  // After a release went live: retention and garbage collection, on the
  // janitor thread (a deploy's answer does not wait for it; errors logged).
  void AfterLive(const std::string& app, const std::string& svc);
  void JanitorLoop();
  std::mutex prune_mu;  // one Prune at a time (the janitor's and `moor releases prune`)
  std::mutex janitor_mu;
  std::condition_variable janitor_cv;
  std::set<std::pair<std::string, std::string>> janitor_todo;  // (app, svc)
  bool janitor_stop = false;
  std::thread janitor;

  // deploy_maintenance.cc
  Result<nlohmann::json> Prune(const std::string& app, const std::string& svc, int keep);
};

// A replica's create body for release N (docs/design/deploy.md §5): labels
// moor.app.replica, moor.release, moor.service.meta.moor-release and the
// folded moor.app.digest, env MOOR_RELEASE, the read-only code bind of a
// rolling service, and the image of an image deploy.
nlohmann::json ReleaseBody(const ServiceConfig& cfg, const std::string& releases_dir, const ReleaseRow& row,
                           int replica);

// Errors → HTTP status (ENOENT 404, EEXIST/EBUSY/ESPIPE 409, EACCES 401, EINVAL 400, else 500).
int StatusOf(const Error& e);

// "2026-11-27T10:00:00Z" ("" for 0).
std::string Rfc3339(int64_t unix_ns);
int64_t UnixNowNs();

}  // namespace moor::deploy
