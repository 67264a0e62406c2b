#include "deploy/ledger/switch_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace moor::deploy {
namespace {

using Strings = std::vector<std::string>;

constexpr int64_t kHour = 3600LL * 1'000'000'000;

ReleaseRow Row(int64_t id, ReleaseState state, int64_t created = 0) {
  ReleaseRow r;
  r.app = "shop";
  r.service = "php";
  r.id = id;
  r.state = state;
  r.created_ns = created;
  return r;
}

RecoveryWorld World() {
  RecoveryWorld w;
  w.now_ns = 10 * kHour;
  w.release_containers = {"new1", "new2"};
  w.old_containers = {"old1", "old2"};
  return w;
}

// ---- PlanRecovery: every state × world

TEST(PlanRecoveryTest, UploadingYoungIsKept) {
  for (const char* strategy : {"reload", "rolling"}) {
    auto step = PlanRecovery(Row(5, ReleaseState::kUploading, 10 * kHour - kHour / 2), strategy, World());
    EXPECT_EQ(step.action, RecoveryAction::kKeep) << strategy;
    EXPECT_TRUE(step.containers_to_remove.empty());
  }
}

TEST(PlanRecoveryTest, UploadingOldIsAbandoned) {
  for (const char* strategy : {"reload", "rolling"}) {
    auto step = PlanRecovery(Row(5, ReleaseState::kUploading, 10 * kHour - kHour - 1), strategy, World());
    EXPECT_EQ(step.action, RecoveryAction::kFailAbandoned) << strategy;
    EXPECT_EQ(step.reason, "abandoned upload");
    EXPECT_TRUE(step.containers_to_remove.empty());
  }
  // Exactly at the limit it is still kept.
  auto edge = PlanRecovery(Row(5, ReleaseState::kUploading, 9 * kHour), "reload", World());
  EXPECT_EQ(edge.action, RecoveryAction::kKeep);
}

TEST(PlanRecoveryTest, MaterialisedFailsAndRemovesItsContainers) {
  for (const char* strategy : {"reload", "rolling"}) {
    RecoveryWorld w = World();
    w.current_link = 5;  // even so: materialised never switched
    auto step = PlanRecovery(Row(5, ReleaseState::kMaterialised), strategy, w);
    EXPECT_EQ(step.action, RecoveryAction::kFailInterrupted) << strategy;
    EXPECT_EQ(step.containers_to_remove, (Strings{"new1", "new2"}));
    EXPECT_FALSE(step.reason.empty());
  }
}

TEST(PlanRecoveryTest, SwitchingReloadFlippedIsFinished) {
  RecoveryWorld w = World();
  w.current_link = 5;
  w.live_release = 4;
  w.release_containers.clear();
  auto step = PlanRecovery(Row(5, ReleaseState::kSwitching), "reload", w);
  EXPECT_EQ(step.action, RecoveryAction::kFinishReload);
  EXPECT_TRUE(step.containers_to_remove.empty());  // reload never removes the service's containers
}

TEST(PlanRecoveryTest, SwitchingReloadNotFlippedFails) {
  RecoveryWorld w = World();
  w.current_link = 4;
  w.live_release = 4;
  w.release_containers.clear();
  auto step = PlanRecovery(Row(5, ReleaseState::kSwitching), "reload", w);
  EXPECT_EQ(step.action, RecoveryAction::kFailInterrupted);
  EXPECT_TRUE(step.containers_to_remove.empty());

  w.current_link.reset();  // no link at all (first deploy)
  step = PlanRecovery(Row(5, ReleaseState::kSwitching), "reload", w);
  EXPECT_EQ(step.action, RecoveryAction::kFailInterrupted);
}

TEST(PlanRecoveryTest, SwitchingRollingCommittedRetiresOld) {
  RecoveryWorld w = World();
  w.live_release = 5;
  w.current_link = 4;  // the link (for from: services) may lag the ledger
  auto step = PlanRecovery(Row(5, ReleaseState::kSwitching), "rolling", w);
  EXPECT_EQ(step.action, RecoveryAction::kFinishRolling);
  EXPECT_EQ(step.containers_to_remove, (Strings{"old1", "old2"}));
}

TEST(PlanRecoveryTest, SwitchingRollingNotCommittedRemovesNewContainers) {
  RecoveryWorld w = World();
  w.live_release = 4;
  w.current_link = 5;  // the link does not decide for rolling
  auto step = PlanRecovery(Row(5, ReleaseState::kSwitching), "rolling", w);
  EXPECT_EQ(step.action, RecoveryAction::kFailInterrupted);
  EXPECT_EQ(step.containers_to_remove, (Strings{"new1", "new2"}));

  w.live_release.reset();
  step = PlanRecovery(Row(5, ReleaseState::kSwitching), "rolling", w);
  EXPECT_EQ(step.action, RecoveryAction::kFailInterrupted);
  EXPECT_EQ(step.containers_to_remove, (Strings{"new1", "new2"}));
}

TEST(PlanRecoveryTest, ImageReleaseOfReloadServiceRecoversAsRolling) {
  ReleaseRow row = Row(5, ReleaseState::kSwitching);
  row.kind = "image";
  RecoveryWorld w = World();
  w.live_release = 5;
  EXPECT_EQ(PlanRecovery(row, "reload", w).action, RecoveryAction::kFinishRolling);
  w.live_release = 4;
  w.current_link = 5;
  auto step = PlanRecovery(row, "reload", w);
  EXPECT_EQ(step.action, RecoveryAction::kFailInterrupted);
  EXPECT_EQ(step.containers_to_remove, (Strings{"new1", "new2"}));
}

TEST(PlanRecoveryTest, FinishedStatesNeedNothing) {
  for (auto s : {ReleaseState::kLive, ReleaseState::kRetired, ReleaseState::kFailed}) {
    for (const char* strategy : {"reload", "rolling"}) {
      auto step = PlanRecovery(Row(5, s), strategy, World());
      EXPECT_EQ(step.action, RecoveryAction::kKeep);
      EXPECT_TRUE(step.containers_to_remove.empty());
    }
  }
}

// ---- PlanRolling

RollingInstance Inst(const std::string& id, int replica, int64_t release, bool running = true) {
  return RollingInstance{id, replica, release, running};
}

TEST(PlanRollingTest, FreshNumbersInBatchesThenRetireOld) {
  std::vector<RollingInstance> existing = {Inst("c1", 1, 4), Inst("c2", 2, 4), Inst("c3", 3, 4)};
  RollingPlan p = PlanRolling(existing, 4, 5, 3, 2);
  EXPECT_TRUE(p.stale.empty());
  ASSERT_EQ(p.start_batches.size(), 2u);
  EXPECT_EQ(p.start_batches[0], (std::vector<int>{4, 5}));
  EXPECT_EQ(p.start_batches[1], (std::vector<int>{6}));
  ASSERT_EQ(p.retire_batches.size(), 2u);
  EXPECT_EQ(p.retire_batches[0], (Strings{"c1", "c2"}));
  EXPECT_EQ(p.retire_batches[1], (Strings{"c3"}));
}

TEST(PlanRollingTest, LowestFreeNumbersFillGaps) {
  // Replicas 2 and 5 exist (1, 3, 4 free): the new ones take 1, 3, 4.
  std::vector<RollingInstance> existing = {Inst("c5", 5, 4), Inst("c2", 2, 4)};
  RollingPlan p = PlanRolling(existing, 4, 5, 3, 1);
  ASSERT_EQ(p.start_batches.size(), 3u);
  EXPECT_EQ(p.start_batches[0], (std::vector<int>{1}));
  EXPECT_EQ(p.start_batches[1], (std::vector<int>{3}));
  EXPECT_EQ(p.start_batches[2], (std::vector<int>{4}));
  ASSERT_EQ(p.retire_batches.size(), 2u);
  EXPECT_EQ(p.retire_batches[0], (Strings{"c2"}));  // by replica number
  EXPECT_EQ(p.retire_batches[1], (Strings{"c5"}));
}

TEST(PlanRollingTest, StaleContainersAreListedAndKeepTheirNumbers) {
  std::vector<RollingInstance> existing = {Inst("live1", 1, 4), Inst("failed2", 2, 3), Inst("failed3", 3, 6, false)};
  RollingPlan p = PlanRolling(existing, 4, 5, 2, 5);
  EXPECT_EQ(p.stale, (Strings{"failed2", "failed3"}));
  ASSERT_EQ(p.start_batches.size(), 1u);
  EXPECT_EQ(p.start_batches[0], (std::vector<int>{4, 5}));
  ASSERT_EQ(p.retire_batches.size(), 1u);
  EXPECT_EQ(p.retire_batches[0], (Strings{"live1"}));
}

TEST(PlanRollingTest, FirstRollingDeployRetiresUnlabelledContainers) {
  std::vector<RollingInstance> existing = {Inst("a", 1, 0), Inst("b", 2, 0)};
  RollingPlan p = PlanRolling(existing, 0, 1, 2, 1);
  EXPECT_TRUE(p.stale.empty());
  ASSERT_EQ(p.start_batches.size(), 2u);
  EXPECT_EQ(p.start_batches[0], (std::vector<int>{3}));
  EXPECT_EQ(p.start_batches[1], (std::vector<int>{4}));
  ASSERT_EQ(p.retire_batches.size(), 2u);
  // Unlabelled containers beside a live release are old too, not stale.
  p = PlanRolling(existing, 7, 8, 2, 2);
  EXPECT_TRUE(p.stale.empty());
  ASSERT_EQ(p.retire_batches.size(), 1u);
  EXPECT_EQ(p.retire_batches[0], (Strings{"a", "b"}));
}

TEST(PlanRollingTest, RunningTargetContainersCountStoppedOnesAreStale) {
  std::vector<RollingInstance> existing = {Inst("old1", 1, 4), Inst("old2", 2, 4), Inst("new3", 3, 5),
                                           Inst("new4", 4, 5, false)};
  RollingPlan p = PlanRolling(existing, 4, 5, 2, 1);
  EXPECT_EQ(p.stale, (Strings{"new4"}));
  ASSERT_EQ(p.start_batches.size(), 1u);
  EXPECT_EQ(p.start_batches[0], (std::vector<int>{5}));
  ASSERT_EQ(p.retire_batches.size(), 2u);
}

TEST(PlanRollingTest, EmptyServiceAndBadBatch) {
  RollingPlan p = PlanRolling({}, 0, 1, 3, 0);  // batch < 1 behaves as 1
  EXPECT_TRUE(p.stale.empty());
  ASSERT_EQ(p.start_batches.size(), 3u);
  EXPECT_EQ(p.start_batches[2], (std::vector<int>{3}));
  EXPECT_TRUE(p.retire_batches.empty());

  p = PlanRolling({Inst("a", 1, 4)}, 4, 5, 0, 1);  // scaled to zero: only retire
  EXPECT_TRUE(p.start_batches.empty());
  ASSERT_EQ(p.retire_batches.size(), 1u);
}

// ---- PlanPrune

ReleaseRow Ever(int64_t id, ReleaseState s, int64_t live_ns, int64_t retired_ns = 0) {
  ReleaseRow r = Row(id, s);
  r.live_ns = live_ns;
  r.retired_ns = retired_ns;
  return r;
}

TEST(PlanPruneTest, KeepsLiveUnfinishedInUseNewestAndGrace) {
  RetentionInput in;
  in.keep = 2;
  in.now_ns = 1000;
  in.grace_ns = 50;
  in.releases = {
      Ever(1, ReleaseState::kRetired, 10, 20),   // old: pruned
      Ever(2, ReleaseState::kRetired, 20, 30),   // old but in use: kept
      Ever(3, ReleaseState::kFailed, 0),         // failed: pruned
      Ever(4, ReleaseState::kRetired, 40, 50),   // third newest ever-live: pruned
      Ever(5, ReleaseState::kRetired, 50, 60),   // second newest: kept (keep = 2)
      Ever(6, ReleaseState::kRetired, 60, 960),  // newest retired, and within grace: kept
      Ever(7, ReleaseState::kLive, 960),         // live: kept
      Ever(8, ReleaseState::kUploading, 0),      // unfinished: kept
      Ever(9, ReleaseState::kMaterialised, 0),   // unfinished: kept
      Ever(10, ReleaseState::kSwitching, 0),     // unfinished: kept
      Ever(11, ReleaseState::kFailed, 0),        // failed: pruned
  };
  in.in_use = {2};
  EXPECT_EQ(PlanPrune(in), (std::vector<int64_t>{1, 3, 4, 11}));
}

TEST(PlanPruneTest, GraceKeepsThePreviousLiveBeyondKeep) {
  RetentionInput in;
  in.keep = 0;
  in.now_ns = 1000;
  in.grace_ns = 100;
  in.releases = {Ever(1, ReleaseState::kRetired, 10, 500), Ever(2, ReleaseState::kRetired, 500, 950),
                 Ever(3, ReleaseState::kLive, 950)};
  EXPECT_EQ(PlanPrune(in), (std::vector<int64_t>{1}));
  in.now_ns = 1050;  // the grace is over
  EXPECT_EQ(PlanPrune(in), (std::vector<int64_t>{1, 2}));
}

TEST(PlanPruneTest, RollbackTargetCountsFromItsLastSwitch) {
  RetentionInput in;
  in.keep = 1;
  in.now_ns = 10'000;
  // 1 was live, then 2, then 1 again (rollback), then 3: 1 is the most recent
  // ever-live besides the live one.
  in.releases = {Ever(1, ReleaseState::kRetired, 300, 400), Ever(2, ReleaseState::kRetired, 200, 300),
                 Ever(3, ReleaseState::kLive, 400)};
  EXPECT_EQ(PlanPrune(in), (std::vector<int64_t>{2}));
}

TEST(PlanPruneTest, NothingToPrune) {
  RetentionInput in;
  EXPECT_TRUE(PlanPrune(in).empty());
  in.releases = {Ever(1, ReleaseState::kLive, 5)};
  in.keep = 0;
  EXPECT_TRUE(PlanPrune(in).empty());
}

}  // namespace
}  // namespace moor::deploy
