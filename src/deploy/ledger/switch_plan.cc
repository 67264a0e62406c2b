#include "deploy/ledger/switch_plan.h"

#include <algorithm>

namespace moor::deploy {

// ---- recovery at daemon start

namespace {

// An image release is switched by rolling whatever the service's strategy
// (docs/design/deploy.md §5: a reload service uses rolling for --image).
bool IsRolling(const ReleaseRow& row, const std::string& strategy) {
  return strategy == "rolling" || row.kind == "image";
}

}  // namespace

RecoveryStep PlanRecovery(const ReleaseRow& row, const std::string& strategy, const RecoveryWorld& w) {
  RecoveryStep step;
  switch (row.state) {
    case ReleaseState::kUploading:
      if (w.now_ns - row.created_ns > kAbandonedUploadNs) {
        step.action = RecoveryAction::kFailAbandoned;
        step.reason = "abandoned upload";
      } else {
        step.action = RecoveryAction::kKeep;
        step.reason = "upload kept for resume";
      }
      return step;
    case ReleaseState::kMaterialised:
      // Nothing was switched; a rolling switch may have started containers.
      step.action = RecoveryAction::kFailInterrupted;
      step.containers_to_remove = w.release_containers;
      step.reason = "interrupted before the switch (daemon restarted)";
      return step;
    case ReleaseState::kSwitching:
      if (IsRolling(row, strategy)) {
        if (w.live_release == row.id) {
          step.action = RecoveryAction::kFinishRolling;
          step.containers_to_remove = w.old_containers;
          step.reason = "committed before the restart: retiring the old containers";
        } else {
          step.action = RecoveryAction::kFailInterrupted;
          step.containers_to_remove = w.release_containers;
          step.reason = "interrupted before the commit (daemon restarted)";
        }
      } else if (w.current_link == row.id) {
        step.action = RecoveryAction::kFinishReload;
        step.reason = "current already points at the release: signalling again";
      } else {
        step.action = RecoveryAction::kFailInterrupted;
        step.containers_to_remove = w.release_containers;
        step.reason = "interrupted before the switch (daemon restarted)";
      }
      return step;
    case ReleaseState::kLive:
    case ReleaseState::kRetired:
    case ReleaseState::kFailed:
      break;
  }
  step.action = RecoveryAction::kKeep;
  step.reason = "finished";
  return step;
}

// ---- rolling switch

RollingPlan PlanRolling(const std::vector<RollingInstance>& existing, int64_t live, int64_t target, int replicas,
                        int batch) {
  const size_t step = batch < 1 ? 1 : static_cast<size_t>(batch);
  RollingPlan plan;

  std::vector<const RollingInstance*> sorted;
  for (const auto& c : existing) sorted.push_back(&c);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->replica < b->replica; });

  std::set<int> used;
  int have_target = 0;
  std::vector<std::string> old;
  for (const auto* c : sorted) {
    used.insert(c->replica);
    if (c->release == target) {
      // A target container left by an interrupted attempt counts if it runs;
      // a stopped one is removed and made again.
      if (c->running) {
        ++have_target;
      } else {
        plan.stale.push_back(c->id);
      }
    } else if (c->release == live || c->release == 0) {
      // Unlabelled containers predate rolling deploys: they serve until retired.
      old.push_back(c->id);
    } else {
      plan.stale.push_back(c->id);
    }
  }

  std::vector<int> fresh;
  for (int n = 1; static_cast<int>(fresh.size()) < replicas - have_target; ++n) {
    if (!used.count(n)) fresh.push_back(n);
  }
  for (size_t i = 0; i < fresh.size(); i += step) {
    plan.start_batches.emplace_back(fresh.begin() + static_cast<std::ptrdiff_t>(i),
                                    fresh.begin() + static_cast<std::ptrdiff_t>(std::min(fresh.size(), i + step)));
  }
  for (size_t i = 0; i < old.size(); i += step) {
    plan.retire_batches.emplace_back(old.begin() + static_cast<std::ptrdiff_t>(i),
                                     old.begin() + static_cast<std::ptrdiff_t>(std::min(old.size(), i + step)));
  }
  return plan;
}

// ---- retention

namespace {

bool Unfinished(ReleaseState s) {
  return s == ReleaseState::kUploading || s == ReleaseState::kMaterialised || s == ReleaseState::kSwitching;
}

bool EverLive(const ReleaseRow& r) {
  return r.live_ns > 0 || r.state == ReleaseState::kLive || r.state == ReleaseState::kRetired;
}

}  // namespace

std::vector<int64_t> PlanPrune(const RetentionInput& in) {
  std::set<int64_t> kept;
  std::vector<const ReleaseRow*> ever_live;
  for (const auto& r : in.releases) {
    if (r.state == ReleaseState::kLive || Unfinished(r.state) || in.in_use.count(r.id)) kept.insert(r.id);
    if (r.state == ReleaseState::kRetired && r.retired_ns > 0 && in.now_ns - r.retired_ns < in.grace_ns) {
      kept.insert(r.id);  // recently replaced: old requests may still read it
    }
    if (r.state != ReleaseState::kLive && EverLive(r)) ever_live.push_back(&r);
  }
  // The most recently live first (a rollback target counts from its last switch).
  std::stable_sort(ever_live.begin(), ever_live.end(),
                   [](auto* a, auto* b) { return a->live_ns != b->live_ns ? a->live_ns > b->live_ns : a->id > b->id; });
  const size_t keep = in.keep < 0 ? 0 : static_cast<size_t>(in.keep);
  for (size_t i = 0; i < ever_live.size() && i < keep; ++i) kept.insert(ever_live[i]->id);

  std::vector<int64_t> out;
  for (const auto& r : in.releases) {
    if (!kept.count(r.id)) out.push_back(r.id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace moor::deploy
