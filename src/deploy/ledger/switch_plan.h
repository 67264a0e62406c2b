// Pure decisions of the deploy service (docs/design/deploy.md §4–5): what to
// do with unfinished releases at daemon start, the batches of a rolling
// switch, and which releases retention keeps. No I/O; unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deploy/ledger/ledger.h"

namespace moor::deploy {

// ---- recovery at daemon start
struct RecoveryWorld {
  std::optional<int64_t> current_link;         // where releases/APP/SVC/current points
  std::optional<int64_t> live_release;         // the service's ledger live_release
  std::vector<std::string> release_containers; // ids of containers labelled moor.release=<row.id>
  std::vector<std::string> old_containers;     // ids of the service's containers of other releases
  int64_t now_ns = 0;
};

enum class RecoveryAction {
  kKeep,              // uploading and younger than the limit: kept for a resumed upload
  kFailAbandoned,     // uploading too long: failed ("abandoned upload")
  kFailInterrupted,   // materialised / switching that never committed: failed, containers_to_remove removed
  kFinishReload,      // switching (reload) already flipped: send the reload signal again, then live
  kFinishRolling,     // switching (rolling) already committed: retire containers_to_remove, then live
};

struct RecoveryStep {
  RecoveryAction action = RecoveryAction::kKeep;
  std::vector<std::string> containers_to_remove;
  std::string reason;  // for the log and the ledger's error
};

constexpr int64_t kAbandonedUploadNs = 3600LL * 1'000'000'000;

RecoveryStep PlanRecovery(const ReleaseRow& row, const std::string& strategy, const RecoveryWorld& w);

// ---- rolling switch
struct RollingInstance {
  std::string id;
  int replica = 0;       // moor.app.replica
  int64_t release = 0;   // moor.release (0: none)
  bool running = false;
};

struct RollingPlan {
  std::vector<std::string> stale;                  // containers of neither live nor target: remove first
  std::vector<std::vector<int>> start_batches;     // replica numbers to create for the target, in order
  std::vector<std::vector<std::string>> retire_batches;  // old containers, in order, after the commit
};

// `existing`: the service's containers; `live`: the live release (0: none);
// `target`: the new release; numbers for new replicas are the lowest not used
// by any existing container (old ones keep theirs until retired).
RollingPlan PlanRolling(const std::vector<RollingInstance>& existing, int64_t live, int64_t target, int replicas,
                        int batch);

// ---- retention
struct RetentionInput {
  std::vector<ReleaseRow> releases;   // one service's, any order
  std::set<int64_t> in_use;           // named by a container's moor.release label
  int keep = 5;                       // releases that were ever live to keep (besides the live one)
  int64_t now_ns = 0;
  int64_t grace_ns = 0;               // the previous live release is kept this long after its switch
};

// Release ids whose trees may be removed (never the live one, nor any in
// uploading/materialised/switching, nor one in use, nor the newest `keep`
// that were ever live, nor the previous live one within its grace).
std::vector<int64_t> PlanPrune(const RetentionInput& in);

}  // namespace moor::deploy
