// Commit, rollback and the two switch strategies (docs/design/deploy.md §5).
//
// reload: the release is materialised next to the live one, `current` is
// renamed over to it (the commit point: every later lookup resolves to the
// new tree), the ledger records it, and the service's containers get their
// reload signal (php-fpm: SIGUSR2, finishing in-flight requests).
//
// rolling (and any image deploy): new containers pinned to the release start
// beside the old ones, a batch at a time, each ready (running, healthy,
// registered, rendered) before the next; the catalog gate hides them until
// the commit. The commit is the ledger's live release plus the gate; once
// every template using the service has rendered the new instances, the old
// containers are stopped (deregistered and drained first) a batch at a time.
// A new replica that never gets ready removes every new one: the old ones
// were never touched.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "app/app_executor.h"
#include "app/code_release.h"
#include "app/up_plan.h"
#include "common/log.h"
#include "deploy/deploy_internal.h"
#include "deploy/ledger/switch_plan.h"
#include "metrics/registry.h"

namespace moor::deploy {

using nlohmann::json;

namespace {

// moor_deploys_total{app, service, result}: success | failure for commits,
// rollback | rollback_failure for rollbacks. Counted once the release is
// known; an early return counts as the failure.
class DeployOutcome {
 public:
  DeployOutcome(std::string app, std::string service, bool rollback)
      : app_(std::move(app)), service_(std::move(service)), rollback_(rollback) {}
  ~DeployOutcome() {
    static auto& f = metrics::DefaultRegistry().AddCounter(
        "moor_deploys_total", "Deploys (commits) and rollbacks by result", {"app", "service", "result"});
    std::string result = rollback_ ? (ok_ ? "rollback" : "rollback_failure") : (ok_ ? "success" : "failure");
    f.With({app_, service_, result}).Inc();
  }
  DeployOutcome(const DeployOutcome&) = delete;
  DeployOutcome& operator=(const DeployOutcome&) = delete;
  void Succeeded() { ok_ = true; }

 private:
  std::string app_, service_;
  bool rollback_;
  bool ok_ = false;
};

// moor_deploy_switch_duration_seconds{strategy}: from the start of a switch
// to the release being live (reload: rename + signals; rolling: new
// containers ready, old ones stopped). Switches take seconds to minutes.
void ObserveSwitch(const std::string& strategy, std::chrono::steady_clock::duration d) {
  static auto& f = metrics::DefaultRegistry().AddHistogram(
      "moor_deploy_switch_duration_seconds", "Time a successful release switch took, by strategy", {"strategy"},
      {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600});
  f.With({strategy}).Observe(std::chrono::duration<double>(d).count());
}

int ReplicaOf(const app::ContainerStatus& c) {
  auto it = c.labels.find(app::kLabelReplica);
  return it == c.labels.end() ? 0 : std::atoi(it->second.c_str());
}

int64_t ReleaseOf(const app::ContainerStatus& c) {
  auto it = c.labels.find(app::kLabelRelease);
  return it == c.labels.end() ? 0 : std::atoll(it->second.c_str());
}

// MOOR_DEPLOY_TEST_PAUSE=STATE: the integration tests' hook to kill the
// daemon at a known point of a switch (sleeps 30 s there).
void TestPause(const char* state) {
  const char* p = getenv("MOOR_DEPLOY_TEST_PAUSE");
  if (p && std::string(p) == state) {
    log::Info(std::string("deploy: test pause at ") + state);
    std::this_thread::sleep_for(std::chrono::seconds(30));
  }
}

std::string Names(const std::vector<app::ContainerStatus>& cs) {
  json j = json::array();
  for (auto& c : cs) j.push_back(c.name);
  return j.dump();
}

}  // namespace

json ReleaseBody(const ServiceConfig& cfg, const std::string& releases_dir, const ReleaseRow& row, int replica) {
  json body = cfg.body;
  if (!row.image_ref.empty()) body["Image"] = row.image_ref;
  app::ReleasePin p;
  size_t slash = releases_dir.rfind('/');
  std::string svc_dir = releases_dir.substr(0, slash);
  p.service = releases_dir.substr(slash + 1);
  p.app = svc_dir.substr(svc_dir.rfind('/') + 1);
  p.replica = replica;
  p.release = row.id;
  p.releases_dir = releases_dir;
  p.code_path = cfg.strategy == "rolling" ? cfg.code_path : "";
  p.base_digest = cfg.digest;
  app::PinRelease(&body, p);
  return body;
}

Result<std::vector<app::ContainerStatus>> DeployService::Impl::Containers(app::AppBackend& b, const std::string& app,
                                                                         const std::string& svc) {
  auto all = TRY(b.ListContainers(app));
  std::vector<app::ContainerStatus> out;
  for (auto& c : all) {
    auto it = c.labels.find(app::kLabelService);
    if (it != c.labels.end() && it->second == svc) out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::string> DeployService::Impl::SignalAll(app::AppBackend& b, const ServiceRecord& rec,
                                                        const ServiceConfig& cfg,
                                                        const std::vector<app::ContainerStatus>& cs) {
  std::vector<std::string> problems;
  if (cfg.reload_signal == "none") return problems;
  for (auto& c : cs) {
    if (c.state != "running") continue;
    auto r = b.Signal(c.id, cfg.reload_signal);
    if (!r) {
      problems.push_back(c.name + ": " + r.error().message());
      log::Warn("deploy " + rec.app + "/" + rec.service + ": " + cfg.reload_signal + " to " + c.name + ": " +
                r.error().message());
    }
  }
  return problems;
}

Result<int64_t> DeployService::Commit(const std::string& session, const ProgressFn& progress) {
  auto row = TRY(impl_->SessionRow(session));
  if (row.state == ReleaseState::kLive) return row.id;
  if (row.state == ReleaseState::kFailed)
    return FailInvalid("release " + std::to_string(row.id) + " failed: " + row.error + "; run moor deploy again");
  if (row.state == ReleaseState::kRetired)
    return FailInvalid("release " + std::to_string(row.id) + " was live and is retired: use moor rollback " +
                       row.service + " " + std::to_string(row.id));
  DeployOutcome outcome(row.app, row.service, /*rollback=*/false);
  auto lock = impl_->SwitchLock(row.app, row.service);
  std::unique_lock<std::mutex> held(*lock, std::try_to_lock);
  if (!held.owns_lock())
    return Fail(Error(EBUSY, "a deploy of " + row.service + " is in progress; wait for it and run moor deploy again"));
  // Read under the lock: a switch that just ended changed the live release.
  auto [rec, cfg] = TRY(impl_->Service(row.app, row.service));
  auto fail = [&](Error e) -> Result<int64_t> {
    (void)impl_->L([&](Ledger& l) { return l.SetState(row.app, row.service, row.id, ReleaseState::kFailed, e.message()); });
    return Fail(std::move(e));
  };
  if (!row.code_digest.empty()) {
    auto root = TRY(image::Digest::Parse(row.code_digest));
    if (!impl_->store->Has(root)) {
      return Fail(Error(ENOENT, "the tree " + row.code_digest + " of release " + std::to_string(row.id) +
                                    " is not on the node (its upload did not finish): run moor deploy again"));
    }
    std::vector<image::Digest> written;
    bool unsure = false;
    {
      std::lock_guard<std::mutex> g(impl_->written_mu);
      written = impl_->written[session];
      unsure = impl_->unsure.count(session) > 0;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto synced = unsure ? impl_->store->SyncAll() : impl_->store->Sync(written);
    if (!synced) return fail(std::move(synced.error()));
    auto t1 = std::chrono::steady_clock::now();
    MaterialiseStats st;
    // The janitor may still be preparing the spare of the last release: take it when it is ready.
    auto m = impl_->store->Materialise(row.app, row.service, row.id, root, &st);
    if (!m) return fail(std::move(m.error()).Wrap("materialise release " + std::to_string(row.id)));
    auto t2 = std::chrono::steady_clock::now();
    auto ms = [](auto d) { return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0); };
    log::Info("deploy " + row.app + "/" + row.service + " release " + std::to_string(row.id) + ": synced " +
              std::to_string(written.size()) + " objects in " + ms(t1 - t0) + " ms, materialised " +
              std::to_string(st.files) + " files, " + std::to_string(st.dirs) + " dirs in " + ms(t2 - t1) + " ms");
  }
  TRY(impl_->L([&](Ledger& l) { return l.SetState(row.app, row.service, row.id, ReleaseState::kMaterialised); }));
  progress({{"state", "materialised"}, {"release", row.id}});
  auto sw = impl_->Switch(rec, cfg, row, row.kind == "image" ? "image" : "deploy", row.who, progress);
  if (!sw) return fail(std::move(sw.error()));
  {
    std::lock_guard<std::mutex> g(impl_->written_mu);
    impl_->written.erase(session);
    impl_->unsure.erase(session);
  }
  held.unlock();
  outcome.Succeeded();
  impl_->AfterLive(row.app, row.service);
  return row.id;
}

Result<int64_t> DeployService::Rollback(const std::string& app, const std::string& svc, std::optional<int64_t> release,
                                        const std::string& who, const ProgressFn& progress) {
  DeployOutcome outcome(app, svc, /*rollback=*/true);
  auto lock = impl_->SwitchLock(app, svc);
  std::unique_lock<std::mutex> held(*lock, std::try_to_lock);
  if (!held.owns_lock()) return Fail(Error(EBUSY, "a deploy of " + svc + " is in progress; wait for it"));
  auto [rec, cfg] = TRY(impl_->Service(app, svc));
  if (!rec.live_release) return FailInvalid(svc + " has no live release to roll back from: deploy one first");
  int64_t live = *rec.live_release;
  int64_t target = 0;
  if (release) {
    target = *release;
  } else {
    auto switches = TRY(impl_->L([&](Ledger& l) { return l.ListSwitches(app, svc); }));
    // The release live before the current one went live.
    for (auto it = switches.rbegin(); it != switches.rend(); ++it) {
      if (it->to_id == live) {
        target = it->from_id;
        break;
      }
    }
    if (target == 0) return FailInvalid("no earlier release of " + svc + " to roll back to (see moor releases " + svc + ")");
  }
  if (target == live) return FailInvalid("release " + std::to_string(target) + " of " + svc + " is already live");
  auto row = TRY(impl_->L([&](Ledger& l) { return l.GetRelease(app, svc, target); }));
  if (!row) return Fail(Error(ENOENT, "no release " + std::to_string(target) + " of " + svc + " (see moor releases " + svc + ")"));
  if (row->state != ReleaseState::kRetired && row->state != ReleaseState::kLive) {
    return FailInvalid("release " + std::to_string(target) + " of " + svc + " is " + std::string(StateName(row->state)) +
                       ": only a release that was live can be rolled back to");
  }
  if (!row->code_digest.empty() && !impl_->store->IsMaterialised(app, svc, target)) {
    return FailInvalid("release " + std::to_string(target) + " of " + svc + " was pruned; deploy its code again");
  }
  auto sw = impl_->Switch(rec, cfg, *row, "rollback", who, progress);
  if (!sw) {
    // The release stays what it was: a retired one can be tried again.
    (void)impl_->L([&](Ledger& l) { return l.SetState(app, svc, target, row->state); });
    return Fail(std::move(sw.error()));
  }
  held.unlock();
  outcome.Succeeded();
  impl_->AfterLive(app, svc);
  return target;
}

Result<void> DeployService::Impl::Switch(const ServiceRecord& rec, const ServiceConfig& cfg, const ReleaseRow& row,
                                         const std::string& kind, const std::string& who, const ProgressFn& progress) {
  auto backend = TRY(backends());
  TRY(L([&](Ledger& l) { return l.SetState(row.app, row.service, row.id, ReleaseState::kSwitching); }));
  progress({{"state", "switching"}, {"release", row.id}, {"strategy", cfg.strategy}});
  TestPause("switching");
  // A release's image differs from the live one's: containers must be made
  // again, whatever the strategy.
  std::string live_image = cfg.image;
  if (rec.live_release) {
    auto live = TRY(L([&](Ledger& l) { return l.GetRelease(rec.app, rec.service, *rec.live_release); }));
    if (live && !live->image_ref.empty()) live_image = live->image_ref;
  }
  std::string target_image = row.image_ref.empty() ? cfg.image : row.image_ref;
  bool reload = cfg.strategy == "reload" && target_image == live_image;
  auto started = std::chrono::steady_clock::now();
  auto r = reload ? ReloadSwitch(*backend, rec, cfg, row, kind, who, progress)
                  : RollingSwitch(*backend, rec, cfg, row, kind, who, progress);
  // The strategy that ran: a reload service's image change rolls.
  if (r) ObserveSwitch(reload ? "reload" : "rolling", std::chrono::steady_clock::now() - started);
  return r;
}

Result<void> DeployService::Impl::ReloadSwitch(app::AppBackend& b, const ServiceRecord& rec, const ServiceConfig& cfg,
                                               const ReleaseRow& row, const std::string& kind, const std::string& who,
                                               const ProgressFn& progress) {
  const std::optional<int64_t> before = store->Current(rec.app, rec.service);
  TRY(store->SetCurrent(rec.app, rec.service, row.id));
  if (auto c = L([&](Ledger& l) { return l.CommitLive(rec.app, rec.service, row.id, kind, who, UnixNowNs()); }); !c) {
    // The ledger is the record of what is live: without it, the old release serves again.
    if (before) (void)store->SetCurrent(rec.app, rec.service, *before);
    return Fail(std::move(c.error()).Wrap("record release " + std::to_string(row.id) + " as live"));
  }
  auto cs = Containers(b, rec.app, rec.service);
  if (cs) {
    auto problems = SignalAll(b, rec, cfg, *cs);
    (void)L([&](Ledger& l) { return l.SetInstances(rec.app, rec.service, row.id, Names(*cs)); });
    json line = {{"state", "live"}, {"release", row.id}, {"signalled", static_cast<int>(cs->size())}};
    if (!problems.empty()) line["warnings"] = problems;
    progress(line);
  } else {
    // The switch is done (the rename); only the signal could not be sent.
    log::Warn("deploy " + rec.app + "/" + rec.service + ": list containers: " + cs.error().message());
    progress({{"state", "live"}, {"release", row.id}, {"warnings", json::array({cs.error().message()})}});
  }
  return {};
}

Result<void> DeployService::Impl::RollingSwitch(app::AppBackend& b, const ServiceRecord& rec, const ServiceConfig& cfg,
                                                const ReleaseRow& row, const std::string& kind, const std::string& who,
                                                const ProgressFn& progress) {
  const std::string dir = store->ServiceDir(rec.app, rec.service);
  auto cs = TRY(Containers(b, rec.app, rec.service));
  int64_t live = rec.live_release.value_or(0);
  std::vector<RollingInstance> existing;
  int replicas = 0;
  for (auto& c : cs) {
    RollingInstance in{c.id, ReplicaOf(c), ReleaseOf(c), c.state == "running"};
    // Containers made by `moor up` before any release carry none: they are the live ones.
    if (in.release == 0) in.release = live;
    if (in.release == live) ++replicas;
    existing.push_back(in);
  }
  RollingPlan plan = PlanRolling(existing, live, row.id, replicas, cfg.batch);
  for (auto& id : plan.stale) {
    if (auto r = b.Remove(id); !r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()));
  }
  app::AppExecutor exec(b, [](const std::string&) {});
  std::vector<std::pair<std::string, std::string>> made;  // id, name
  auto undo = [&](Error e) -> Result<void> {
    for (auto& [id, name] : made) (void)b.Remove(id);
    // Only once the new instances are gone: until then the gate hides them.
    if (gate && !cfg.discovery_name.empty()) (void)gate->SetLive(cfg.discovery_name, "");
    return Fail(std::move(e));
  };
  if (gate && !cfg.discovery_name.empty() && live != 0) {
    // New instances stay hidden until the commit.
    auto g = gate->SetLive(cfg.discovery_name, std::to_string(live));
    if (!g) return Fail(std::move(g.error()).Wrap("catalog gate"));
  }
  for (auto& batch : plan.start_batches) {
    std::vector<std::pair<std::string, std::string>> started;
    for (int replica : batch) {
      std::string name = app::ContainerName(rec.app, rec.service, replica);
      json body = ReleaseBody(cfg, dir, row, replica);
      auto id = b.Create(name, body);
      if (!id) return undo(std::move(id.error()).Wrap("create " + name));
      made.emplace_back(*id, name);
      for (auto& f : cfg.files) {
        auto r = b.PutFile(*id, f.value("path", ""), f.value("content", ""), f.value("mode", 0644));
        if (!r) return undo(std::move(r.error()).Wrap(name));
      }
      if (auto r = b.RenderTemplates(*id); !r) return undo(std::move(r.error()).Wrap(name));
      if (auto r = b.Start(*id); !r) return undo(std::move(r.error()).Wrap("start " + name));
      started.emplace_back(*id, name);
      progress({{"state", "started"}, {"release", row.id}, {"container", name}});
    }
    for (auto& [id, name] : started) {
      auto r = exec.WaitReady(id, name, opts.ready_timeout_ns);
      if (!r) return undo(std::move(r.error()));
      progress({{"state", "ready"}, {"release", row.id}, {"container", name}});
    }
  }
  // Commit: the ledger, then the catalog (nginx's upstream renders with the new instances only).
  TRY(L([&](Ledger& l) { return l.CommitLive(rec.app, rec.service, row.id, kind, who, UnixNowNs()); }));
  if (!row.code_digest.empty() && store->IsMaterialised(rec.app, rec.service, row.id)) {
    if (auto r = store->SetCurrent(rec.app, rec.service, row.id); !r)
      log::Warn("deploy " + rec.app + "/" + rec.service + ": current: " + r.error().message());
  }
  TestPause("committed");
  if (gate && !cfg.discovery_name.empty()) {
    auto idx = gate->SetLive(cfg.discovery_name, std::to_string(row.id));
    if (idx && !gate->WaitRendered(cfg.discovery_name, *idx, 15'000'000'000))
      log::Warn("deploy " + rec.app + "/" + rec.service + ": templates did not render the new instances in 15 s");
  }
  progress({{"state", "committed"}, {"release", row.id}});
  for (auto& batch : plan.retire_batches) {
    std::vector<int64_t> timeouts(batch.size(), cfg.stop_timeout_ns);
    auto results = b.StopAll(batch, timeouts);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results[i] && results[i].error().errnum() != ENOENT)
        log::Warn("deploy " + rec.app + "/" + rec.service + ": stop " + batch[i] + ": " + results[i].error().message());
      (void)b.Remove(batch[i]);
    }
  }
  if (gate && !cfg.discovery_name.empty()) (void)gate->SetLive(cfg.discovery_name, "");
  std::vector<app::ContainerStatus> now;
  if (auto c = Containers(b, rec.app, rec.service)) now = std::move(*c);
  (void)L([&](Ledger& l) { return l.SetInstances(rec.app, rec.service, row.id, Names(now)); });
  progress({{"state", "live"}, {"release", row.id}, {"started", static_cast<int>(made.size())}});
  return {};
}

void DeployService::Impl::AfterLive(const std::string& app, const std::string& svc) {
  {
    std::lock_guard<std::mutex> g(janitor_mu);
    janitor_todo.insert({app, svc});
  }
  janitor_cv.notify_one();
}

void DeployService::Impl::JanitorLoop() {
  std::unique_lock<std::mutex> g(janitor_mu);
  for (;;) {
    janitor_cv.wait(g, [&] { return janitor_stop || !janitor_todo.empty(); });
    if (janitor_todo.empty()) return;  // stopping, nothing left
    auto [app, svc] = *janitor_todo.begin();
    janitor_todo.erase(janitor_todo.begin());
    g.unlock();
    // A copy of the live tree for the next release to patch (ReleaseStore::PrepareSpare).
    if (auto rec = L([&](Ledger& l) { return l.GetService(app, svc); }); rec && *rec && (*rec)->live_release) {
      auto row = L([&](Ledger& l) { return l.GetRelease(app, svc, *(*rec)->live_release); });
      if (row && *row && !(*row)->code_digest.empty()) {
        if (auto root = image::Digest::Parse((*row)->code_digest)) {
          if (auto sp = store->PrepareSpare(app, svc, *root); !sp)
            log::Warn("deploy " + app + "/" + svc + ": " + sp.error().message());
        }
      }
    }
    auto r = Prune(app, svc, opts.keep);
    if (!r) log::Warn("deploy " + app + "/" + svc + ": prune: " + r.error().message());
    g.lock();
  }
}

}  // namespace moor::deploy
