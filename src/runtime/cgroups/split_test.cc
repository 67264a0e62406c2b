#include "runtime/cgroups/split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace moor::runtime::cgroups {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Layout ThisHost() {
  Layout l;
  l.mode = Mode::kHybrid;
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"})
    l.v1[c] = {std::string("/sys/fs/cgroup/") + c, "/"};
  l.unified = {"/sys/fs/cgroup/unified", "/"};
  l.unified_controllers = {"hugetlb"};
  return l;
}

TEST(UnifiedOnlyControllers, ThisHostHasOnlyHugetlb) {
  EXPECT_THAT(UnifiedOnlyControllers(ThisHost()), ElementsAre("hugetlb"));
}

TEST(UnifiedOnlyControllers, IoMapsToBlkio) {
  Layout l = ThisHost();
  l.v1.erase("blkio");
  l.unified_controllers = {"io", "hugetlb", "memory"};  // memory cannot be on both; v1 wins
  EXPECT_THAT(UnifiedOnlyControllers(l), ElementsAre("blkio", "hugetlb"));
}

TEST(SplitForHybrid, RoutesByController) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 100;
  r.pids = oci::PidsResources{3};
  r.hugepage_limits = {{"2MB", 0}};
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->cpus = "0";
  r.unified["hugetlb.2MB.max"] = "0";
  r.unified["memory.high"] = "1";
  r.unified["cgroup.max.depth"] = "3";
  r.unified["bad/key"] = "1";
  SplitResources s = SplitForHybrid(r, {"hugetlb"});
  ASSERT_TRUE(s.v1.memory);
  EXPECT_EQ(*s.v1.memory->limit, 100);
  ASSERT_TRUE(s.v1.pids);
  EXPECT_EQ(s.v1.devices.size(), 1u);
  ASSERT_TRUE(s.v1.cpu);
  EXPECT_EQ(*s.v1.cpu->shares, 512u);
  EXPECT_EQ(s.v1.cpu->cpus, "0");
  EXPECT_THAT(s.v1.hugepage_limits, IsEmpty());
  EXPECT_EQ(s.v1.unified.size(), 1u);
  EXPECT_EQ(s.v1.unified.count("memory.high"), 1u);

  EXPECT_FALSE(s.v2.memory);
  EXPECT_FALSE(s.v2.pids);
  EXPECT_FALSE(s.v2.cpu);
  EXPECT_THAT(s.v2.devices, IsEmpty());
  EXPECT_EQ(s.v2.hugepage_limits.size(), 1u);
  EXPECT_EQ(s.v2.unified.size(), 3u);
  EXPECT_EQ(s.v2.unified.count("memory.high"), 0u);
}

TEST(SplitForHybrid, CpuAndCpusetCanPart) {
  oci::Resources r;
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 1000;
  r.cpu->cpus = "0-1";
  r.cpu->mems = "0";
  SplitResources s = SplitForHybrid(r, {"cpuset"});
  ASSERT_TRUE(s.v1.cpu && s.v2.cpu);
  EXPECT_EQ(*s.v1.cpu->shares, 512u);
  EXPECT_TRUE(s.v1.cpu->cpus.empty());
  EXPECT_FALSE(s.v2.cpu->shares);
  EXPECT_EQ(s.v2.cpu->cpus, "0-1");
  EXPECT_EQ(s.v2.cpu->mems, "0");
}

TEST(SplitForHybrid, BlockIoFollowsBlkio) {
  oci::Resources r;
  r.block_io.emplace();
  r.block_io->weight = 100;
  r.unified["io.weight"] = "50";
  SplitResources s = SplitForHybrid(r, {"blkio"});
  EXPECT_FALSE(s.v1.block_io);
  EXPECT_TRUE(s.v2.block_io);
  EXPECT_EQ(s.v2.unified.count("io.weight"), 1u);
}

}  // namespace
}  // namespace moor::runtime::cgroups
