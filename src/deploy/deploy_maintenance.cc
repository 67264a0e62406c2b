// Recovery of interrupted deploys at daemon start, and retention with
// garbage collection of release trees and blobs.
#include <cstdlib>

#include "app/code_release.h"
#include "common/log.h"
#include "deploy/deploy_internal.h"
#include "deploy/ledger/switch_plan.h"

namespace moor::deploy {

using nlohmann::json;

namespace {

int64_t ReleaseLabel(const app::ContainerStatus& c) {
  auto it = c.labels.find(app::kLabelRelease);
  return it == c.labels.end() ? 0 : std::atoll(it->second.c_str());
}

}  // namespace

void DeployService::Recover() {
  auto& I = *impl_;
  auto services = I.L([&](Ledger& l) { return l.ListServices(""); });
  if (!services) {
    log::Warn("deploy recovery: " + services.error().message());
    return;
  }
  for (auto& s : *services) {
    if (auto r = I.store->CleanTemp(s.app, s.service); !r) log::Warn("deploy recovery: " + r.error().message());
  }
  auto rows = I.L([&](Ledger& l) { return l.ListUnfinished(); });
  if (!rows) {
    log::Warn("deploy recovery: " + rows.error().message());
    return;
  }
  std::unique_ptr<app::AppBackend> backend;
  for (auto& row : *rows) {
    auto svc = I.Service(row.app, row.service);
    if (!svc) {
      (void)I.L([&](Ledger& l) {
        return l.SetState(row.app, row.service, row.id, ReleaseState::kFailed, "the service is gone");
      });
      continue;
    }
    auto& [rec, cfg] = *svc;
    RecoveryWorld w;
    w.current_link = I.store->Current(row.app, row.service);
    w.live_release = rec.live_release;
    w.now_ns = UnixNowNs();
    std::vector<app::ContainerStatus> cs;
    if (row.state != ReleaseState::kUploading) {
      if (!backend) {
        auto b = I.backends();
        if (!b) {
          log::Warn("deploy recovery: " + b.error().message());
          return;
        }
        backend = std::move(*b);
      }
      auto got = I.Containers(*backend, row.app, row.service);
      if (!got) {
        log::Warn("deploy recovery of " + row.app + "/" + row.service + ": " + got.error().message());
        continue;
      }
      cs = std::move(*got);
      for (auto& c : cs) {
        int64_t rel = ReleaseLabel(c);
        if (rel == 0) rel = rec.live_release.value_or(0);
        (rel == row.id ? w.release_containers : w.old_containers).push_back(c.id);
      }
    }
    RecoveryStep step = PlanRecovery(row, cfg.strategy, w);
    std::string what = row.app + "/" + row.service + " release " + std::to_string(row.id);
    switch (step.action) {
      case RecoveryAction::kKeep:
        break;
      case RecoveryAction::kFailAbandoned:
      case RecoveryAction::kFailInterrupted:
        for (auto& id : step.containers_to_remove) (void)backend->Remove(id);
        (void)I.L([&](Ledger& l) { return l.SetState(row.app, row.service, row.id, ReleaseState::kFailed, step.reason); });
        log::Info("deploy recovery: " + what + ": failed (" + step.reason + ")");
        break;
      case RecoveryAction::kFinishReload:
        if (!rec.live_release || *rec.live_release != row.id) {
          (void)I.L([&](Ledger& l) { return l.CommitLive(row.app, row.service, row.id, row.kind, row.who, UnixNowNs()); });
        }
        I.SignalAll(*backend, rec, cfg, cs);
        log::Info("deploy recovery: " + what + ": live (reload signal sent again)");
        break;
      case RecoveryAction::kFinishRolling: {
        if (!rec.live_release || *rec.live_release != row.id) {
          (void)I.L([&](Ledger& l) { return l.CommitLive(row.app, row.service, row.id, row.kind, row.who, UnixNowNs()); });
        }
        if (I.gate && !cfg.discovery_name.empty()) (void)I.gate->SetLive(cfg.discovery_name, std::to_string(row.id));
        std::vector<int64_t> timeouts(step.containers_to_remove.size(), cfg.stop_timeout_ns);
        (void)backend->StopAll(step.containers_to_remove, timeouts);
        for (auto& id : step.containers_to_remove) (void)backend->Remove(id);
        if (I.gate && !cfg.discovery_name.empty()) (void)I.gate->SetLive(cfg.discovery_name, "");
        log::Info("deploy recovery: " + what + ": live (old containers retired)");
        break;
      }
    }
  }
  // A live tree damaged on disk (by hand, or a crash of the filesystem) is
  // made again from the store, swapped in at once.
  for (auto& s : *services) {
    if (!s.live_release) continue;
    auto row = I.L([&](Ledger& l) { return l.GetRelease(s.app, s.service, *s.live_release); });
    if (!row || !*row || (*row)->code_digest.empty()) continue;
    auto root = image::Digest::Parse((*row)->code_digest);
    if (!root) continue;
    auto ok = I.store->CheckMaterialised(s.app, s.service, *s.live_release, *root);
    if (ok && *ok) continue;
    log::Warn("deploy recovery: " + s.app + "/" + s.service + " release " + std::to_string(*s.live_release) +
              " is incomplete on disk; materialising it again");
    if (auto m = I.store->Rematerialise(s.app, s.service, *s.live_release, *root); !m)
      log::Warn("deploy recovery: " + m.error().message());
  }
}

Result<json> DeployService::Impl::Prune(const std::string& app, const std::string& svc, int keep) {
  std::lock_guard<std::mutex> serial(prune_mu);
  // 1. The selected services' releases that retention lets go.
  int64_t releases_removed = 0;
  std::unique_ptr<app::AppBackend> backend;
  for (auto& s : TRY(L([&](Ledger& l) { return l.ListServices(app); }))) {
    if (!svc.empty() && s.service != svc) continue;
    // A switch or rollback in progress may need the very release retention would drop.
    auto lock = SwitchLock(s.app, s.service);
    std::unique_lock<std::mutex> held(*lock, std::try_to_lock);
    if (!held.owns_lock()) continue;
    if (!backend) backend = TRY(backends());
    RetentionInput in;
    in.releases = TRY(L([&](Ledger& l) { return l.ListReleases(s.app, s.service); }));
    for (auto& c : TRY(Containers(*backend, s.app, s.service))) {
      if (int64_t r = ReleaseLabel(c)) in.in_use.insert(r);
    }
    in.keep = keep;
    in.now_ns = UnixNowNs();
    in.grace_ns = opts.grace_ns;
    for (int64_t id : PlanPrune(in)) {
      if (!store->IsMaterialised(s.app, s.service, id)) continue;
      if (auto r = store->RemoveRelease(s.app, s.service, id); !r) {
        log::Warn("deploy prune " + s.app + "/" + s.service + ": " + r.error().message());
        continue;
      }
      ++releases_removed;
    }
  }
  json out = {{"releases_removed", releases_removed}, {"blobs_removed", 0}, {"bytes_freed", 0}};
  // 2. Blobs no kept tree of any service reaches. Blobs of an upload in
  // progress are reachable from no tree yet: no sweep meanwhile.
  std::vector<image::Digest> kept_roots;
  for (auto& r : TRY(L([&](Ledger& l) { return l.ListReleases("", ""); }))) {
    if (r.state == ReleaseState::kUploading && UnixNowNs() - r.created_ns < kAbandonedUploadNs) {
      out["blobs_skipped"] = "an upload is in progress";
      return out;
    }
    if (r.code_digest.empty()) continue;
    bool unfinished = r.state == ReleaseState::kUploading || r.state == ReleaseState::kMaterialised ||
                      r.state == ReleaseState::kSwitching;
    if (unfinished || store->IsMaterialised(r.app, r.service, r.id)) {
      if (auto d = image::Digest::Parse(r.code_digest)) kept_roots.push_back(*d);
    }
  }
  auto stats = TRY(store->CollectGarbage(kept_roots, 24LL * 3600 * 1'000'000'000));
  out["blobs_removed"] = stats.blobs_removed;
  out["bytes_freed"] = stats.bytes_freed;
  return out;
}

}  // namespace moor::deploy
