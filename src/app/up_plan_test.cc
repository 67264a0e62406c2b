#include "app/up_plan.h"

#include <gtest/gtest.h>

namespace moor::app {
namespace {

using K = UpAction::Kind;

ExistingContainer C(const std::string& id, const std::string& svc, int replica, const std::string& digest,
                    bool running = true) {
  return {id, "app-" + svc + "-" + std::to_string(replica), svc, replica, digest, running};
}

TEST(PlanUp, EmptyAppCreatesEveryReplicaInServiceOrder) {
  auto plan = PlanUp({{"db", "d1", 1}, {"php", "p1", 2}}, {"db", "php"}, {}, true);
  std::vector<UpAction> want = {{K::kCreate, "db", 1, ""}, {K::kCreate, "php", 1, ""}, {K::kCreate, "php", 2, ""}};
  EXPECT_EQ(plan, want);
}

TEST(PlanUp, SecondUpChangesNothing) {
  auto plan = PlanUp({{"php", "p1", 2}}, {"php"}, {C("a", "php", 1, "p1"), C("b", "php", 2, "p1")}, true);
  EXPECT_TRUE(plan.empty());
}

TEST(PlanUp, StoppedUpToDateContainersAreStartedNotRecreated) {
  auto plan = PlanUp({{"php", "p1", 1}}, {"php"}, {C("a", "php", 1, "p1", false)}, true);
  std::vector<UpAction> want = {{K::kStart, "php", 1, "a"}};
  EXPECT_EQ(plan, want);
}

TEST(PlanUp, ChangedDefinitionReplacesOnlyThatService) {
  auto plan = PlanUp({{"nginx", "n1", 1}, {"php", "p2", 2}}, {"nginx", "php"},
                     {C("n", "nginx", 1, "n1"), C("a", "php", 1, "p1"), C("b", "php", 2, "p1")}, true);
  // New numbers: the old containers keep serving under theirs until the new ones are ready.
  std::vector<UpAction> want = {{K::kReplace, "php", 3, "a", 1}, {K::kReplace, "php", 4, "b", 2}};
  EXPECT_EQ(plan, want);
  // The next change takes the freed numbers again.
  auto again = PlanUp({{"php", "p3", 2}}, {"php"}, {C("c", "php", 3, "p2"), C("d", "php", 4, "p2")}, true);
  std::vector<UpAction> want_again = {{K::kReplace, "php", 1, "c", 3}, {K::kReplace, "php", 2, "d", 4}};
  EXPECT_EQ(again, want_again);
}

TEST(PlanUp, ScaleDownDuringAChangeRemovesOutdatedInsteadOfReplacingThem) {
  auto plan = PlanUp({{"php", "p2", 1}}, {"php"},
                     {C("a", "php", 1, "p1"), C("b", "php", 2, "p1"), C("c", "php", 3, "p2")}, true);
  std::vector<UpAction> want = {{K::kRemove, "php", 2, "b"}, {K::kRemove, "php", 1, "a"}};
  EXPECT_EQ(plan, want);
}

TEST(PlanUp, RunningUpToDateContainersAreKeptBeforeStoppedOnes) {
  auto plan = PlanUp({{"php", "p1", 1}}, {"php"}, {C("a", "php", 1, "p1", false), C("b", "php", 2, "p1")}, true);
  std::vector<UpAction> want = {{K::kRemove, "php", 1, "a"}};
  EXPECT_EQ(plan, want);
}

TEST(PlanUp, ScaleUpFillsGapsAndScaleDownRemovesHighestFirst) {
  auto up = PlanUp({{"php", "p1", 4}}, {"php"}, {C("a", "php", 1, "p1"), C("c", "php", 3, "p1")}, true);
  std::vector<UpAction> want_up = {{K::kCreate, "php", 2, ""}, {K::kCreate, "php", 4, ""}};
  EXPECT_EQ(up, want_up);
  auto down = PlanUp({{"php", "p1", 1}}, {"php"},
                     {C("a", "php", 1, "p1"), C("b", "php", 2, "p1"), C("c", "php", 3, "p1")}, true);
  std::vector<UpAction> want_down = {{K::kRemove, "php", 3, "c"}, {K::kRemove, "php", 2, "b"}};
  EXPECT_EQ(down, want_down);
}

TEST(PlanUp, DuplicateOrUnnumberedReplicasAreSurplus) {
  auto plan = PlanUp({{"php", "p1", 1}}, {"php"}, {C("a", "php", 1, "p1"), C("z", "php", 1, "p1"),
                                                   C("q", "php", 0, "p1")}, true);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].kind, K::kRemove);
  EXPECT_EQ(plan[1].kind, K::kRemove);
}

TEST(PlanUp, OrphansAreRemovedLastOnlyWhenAskedAndUnselectedServicesAreLeftAlone) {
  std::vector<ExistingContainer> have = {C("a", "php", 1, "p1"), C("o", "old", 1, "x"), C("n", "nginx", 1, "n1")};
  // `moor up php`: nginx is in the file but not selected → untouched; "old" is an orphan.
  auto plan = PlanUp({{"php", "p1", 1}}, {"php", "nginx"}, have, true);
  std::vector<UpAction> want = {{K::kRemove, "old", 1, "o"}};
  EXPECT_EQ(plan, want);
  EXPECT_TRUE(PlanUp({{"php", "p1", 1}}, {"php", "nginx"}, have, false).empty());
}

TEST(PlanUp, AOneShotThatExitedZeroIsNotStartedAgain) {
  ExistingContainer done = C("s", "seed", 1, "d1", false);
  done.exited_ok = true;
  DesiredService seed{"seed", "d1", 1};
  EXPECT_EQ(PlanUp({seed}, {"seed"}, {done}, true).size(), 1u);  // a long-running service: started again
  seed.runs_once = true;
  EXPECT_TRUE(PlanUp({seed}, {"seed"}, {done}, true).empty());
  ExistingContainer failed = done;
  failed.exited_ok = false;
  std::vector<UpAction> want = {{K::kStart, "seed", 1, "s"}};
  EXPECT_EQ(PlanUp({seed}, {"seed"}, {failed}, true), want);
}

TEST(PlanUp, AnUpInterruptedMidReplacementConverges) {
  // php-4 (new) was created beside php-1 (old) when the CLI died.
  auto plan = PlanUp({{"php", "p2", 2}}, {"php"},
                     {C("a", "php", 1, "p1"), C("b", "php", 2, "p1"), C("n", "php", 4, "p2")}, true);
  std::vector<UpAction> want = {{K::kReplace, "php", 3, "a", 1}, {K::kRemove, "php", 2, "b"}};
  EXPECT_EQ(plan, want);
}

TEST(PlanUp, ZeroReplicasRemovesAll) {
  auto plan = PlanUp({{"php", "p1", 0}}, {"php"}, {C("a", "php", 1, "p1")}, true);
  std::vector<UpAction> want = {{K::kRemove, "php", 1, "a"}};
  EXPECT_EQ(plan, want);
}

TEST(PlanUp, NamesAndDescriptions) {
  EXPECT_EQ(ContainerName("shop", "php", 3), "shop-php-3");
  EXPECT_EQ(DescribeAction({K::kReplace, "php", 3, "x", 1}), "replace php-1 with php-3 (definition changed)");
  EXPECT_EQ(DescribeAction({K::kCreate, "php", 2, ""}), "create php-2");
}

}  // namespace
}  // namespace moor::app
