#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/cgroups/write_printer.h"
#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using W = CgroupWrite;

constexpr int64_t kMiB = 1 << 20;

V2State AllControllers() {
  V2State s;
  s.controllers = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids"};
  s.hugepage_sizes = {"2MB", "1GB"};
  return s;
}

std::vector<CgroupWrite> Plan(const oci::Resources& r, const V2State& s = AllControllers()) {
  auto p = PlanV2Writes(r, s);
  EXPECT_TRUE(p) << p.error().message();
  return p ? *p : std::vector<CgroupWrite>{};
}

std::string PlanError(const oci::Resources& r, const V2State& s = AllControllers()) {
  auto p = PlanV2Writes(r, s);
  EXPECT_FALSE(p);
  return p ? "" : p.error().message();
}

TEST(Conversions, CpuSharesToWeight) {
  EXPECT_EQ(CpuSharesToWeight(0), 0u);
  EXPECT_EQ(CpuSharesToWeight(2), 1u);
  EXPECT_EQ(CpuSharesToWeight(3), 1u);
  EXPECT_EQ(CpuSharesToWeight(512), 20u);
  EXPECT_EQ(CpuSharesToWeight(1024), 39u);
  EXPECT_EQ(CpuSharesToWeight(2048), 79u);
  EXPECT_EQ(CpuSharesToWeight(262144), 10000u);
}

TEST(Conversions, BlkioWeightToIoWeight) {
  EXPECT_EQ(BlkioWeightToIoWeight(0), 0u);
  EXPECT_EQ(BlkioWeightToIoWeight(10), 1u);
  EXPECT_EQ(BlkioWeightToIoWeight(100), 910u);
  EXPECT_EQ(BlkioWeightToIoWeight(500), 4950u);
  EXPECT_EQ(BlkioWeightToIoWeight(1000), 10000u);
}

TEST(Conversions, SwapToV2) {
  EXPECT_EQ(*SwapToV2(0, -1), -1);
  EXPECT_EQ(*SwapToV2(-1, 100), -1);
  EXPECT_EQ(*SwapToV2(-1, -1), -1);
  EXPECT_EQ(*SwapToV2(0, 100), std::nullopt);
  EXPECT_EQ(*SwapToV2(0, 0), std::nullopt);
  EXPECT_EQ(*SwapToV2(300, 100), 200);
  EXPECT_EQ(*SwapToV2(100, 100), 0);  // swap equal to the limit: no swap at all
  EXPECT_THAT(SwapToV2(200, 0).error().message(), HasSubstr("needs memory.limit too"));
  EXPECT_THAT(SwapToV2(200, -1).error().message(), HasSubstr("needs memory.limit too"));
  EXPECT_THAT(SwapToV2(50, 100).error().message(), HasSubstr("below memory.limit"));
}

oci::Resources Memory(std::optional<int64_t> limit, std::optional<int64_t> swap) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = limit;
  r.memory->swap = swap;
  return r;
}

TEST(PlanV2Memory, SwapIsTheDifference) {
  EXPECT_THAT(Plan(Memory(100 * kMiB, 300 * kMiB)), ElementsAre(W{"memory", "memory.swap.max", "209715200"},
                                                                W{"memory", "memory.max", "104857600"}));
  EXPECT_THAT(Plan(Memory(100 * kMiB, 100 * kMiB)), ElementsAre(W{"memory", "memory.swap.max", "0"},
                                                                W{"memory", "memory.max", "104857600"}));
}

TEST(PlanV2Memory, MinusOneIsMax) {
  EXPECT_THAT(Plan(Memory(-1, std::nullopt)),
              ElementsAre(W{"memory", "memory.swap.max", "max"}, W{"memory", "memory.max", "max"}));
  EXPECT_THAT(Plan(Memory(4096, -1)),
              ElementsAre(W{"memory", "memory.swap.max", "max"}, W{"memory", "memory.max", "4096"}));
  oci::Resources r;
  r.memory.emplace();
  r.memory->reservation = -1;
  EXPECT_THAT(Plan(r), ElementsAre(W{"memory", "memory.low", "max"}));
  r.memory->reservation = 1000;
  EXPECT_THAT(Plan(r), ElementsAre(W{"memory", "memory.low", "1000"}));
}

TEST(PlanV2Memory, LimitAloneLeavesSwap) {
  EXPECT_THAT(Plan(Memory(4096, std::nullopt)), ElementsAre(W{"memory", "memory.max", "4096"}));
}

TEST(PlanV2Memory, V1OnlyKnobsAreIgnored) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel_tcp = 1000;
  EXPECT_TRUE(Plan(r).empty());
}

TEST(PlanV2Memory, WithoutSwapAccounting) {
  V2State s = AllControllers();
  s.has_swap_max = false;
  EXPECT_THAT(PlanError(Memory(100, 300), s), HasSubstr("memory.swap.max is missing"));
  EXPECT_THAT(Plan(Memory(-1, std::nullopt), s), ElementsAre(W{"memory", "memory.max", "max"}));
}

TEST(PlanV2Memory, CheckBeforeUpdate) {
  V2State s = AllControllers();
  s.memory_current = 50 * kMiB;
  oci::Resources r = Memory(10 * kMiB, std::nullopt);
  EXPECT_TRUE(PlanV2Writes(r, s));  // not asked to check
  r.memory->check_before_update = true;
  EXPECT_THAT(PlanError(r, s), HasSubstr("below the current usage 52428800"));
  r.memory->limit = 60 * kMiB;
  EXPECT_TRUE(PlanV2Writes(r, s));
}

oci::Resources Cpu(const oci::CpuResources& c) {
  oci::Resources r;
  r.cpu = c;
  return r;
}

TEST(PlanV2Cpu, WeightMaxIdleCpuset) {
  oci::CpuResources c;
  c.shares = 1024;
  c.quota = 50000;
  c.period = 100000;
  c.idle = 0;
  c.cpus = "1";
  c.mems = "0";
  EXPECT_THAT(Plan(Cpu(c)), ElementsAre(W{"cpu", "cpu.weight", "39"}, W{"cpu", "cpu.max", "50000 100000"},
                                        W{"cpu", "cpu.idle", "0"}, W{"cpuset", "cpuset.cpus", "1"},
                                        W{"cpuset", "cpuset.mems", "0"}));
}

TEST(PlanV2Cpu, QuotaAndPeriodForms) {
  oci::CpuResources c;
  c.quota = -1;
  EXPECT_THAT(Plan(Cpu(c)), ElementsAre(W{"cpu", "cpu.max", "max"}));
  c.period = 100000;
  EXPECT_THAT(Plan(Cpu(c)), ElementsAre(W{"cpu", "cpu.max", "max 100000"}));
  oci::CpuResources q;
  q.quota = 25000;
  EXPECT_THAT(Plan(Cpu(q)), ElementsAre(W{"cpu", "cpu.max", "25000"}));
  // Period alone keeps the current quota.
  oci::CpuResources p;
  p.period = 200000;
  V2State s = AllControllers();
  s.cpu_max = "50000 100000\n";
  EXPECT_THAT(Plan(Cpu(p), s), ElementsAre(W{"cpu", "cpu.max", "50000 200000"}));
  s.cpu_max = "max 100000\n";
  EXPECT_THAT(Plan(Cpu(p), s), ElementsAre(W{"cpu", "cpu.max", "max 200000"}));
  EXPECT_THAT(Plan(Cpu(p)), ElementsAre(W{"cpu", "cpu.max", "max 200000"}));
}

TEST(PlanV2Cpu, RealtimeNeedsV1) {
  oci::CpuResources c;
  c.realtime_runtime = 1000;
  EXPECT_THAT(PlanError(Cpu(c)), HasSubstr("real-time limits need cgroup v1"));
  oci::CpuResources zero;
  zero.realtime_runtime = 0;
  zero.realtime_period = 0;
  EXPECT_TRUE(Plan(Cpu(zero)).empty());
}

TEST(PlanV2Cpu, BadShares) {
  oci::CpuResources c;
  c.shares = 1;
  EXPECT_THAT(PlanError(Cpu(c)), HasSubstr("cpu.shares: 1 is out of range"));
}

TEST(PlanV2, Pids) {
  oci::Resources r;
  r.pids = oci::PidsResources{100};
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "100"}));
  r.pids->limit = 0;
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "max"}));
  r.pids->limit = -3;
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "max"}));
}

oci::Resources Io() {
  oci::Resources r;
  r.block_io.emplace();
  auto& b = *r.block_io;
  b.weight = 500;
  b.leaf_weight = 200;  // no v2 equivalent
  b.weight_device.push_back({8, 0, 100, std::nullopt});
  b.throttle_read_bps_device.push_back({8, 0, 1048576});
  b.throttle_write_iops_device.push_back({8, 0, 100});
  b.throttle_write_bps_device.push_back({8, 16, 0});
  b.throttle_read_iops_device.push_back({8, 16, 7});
  return r;
}

TEST(PlanV2Io, ConvertedWeightsAndOneMaxLinePerDevice) {
  EXPECT_THAT(Plan(Io()), ElementsAre(W{"io", "io.weight", "4950"}, W{"io", "io.weight", "8:0 910"},
                                      W{"io", "io.max", "8:0 rbps=1048576 wiops=100"},
                                      W{"io", "io.max", "8:16 wbps=max riops=7"}));
}

TEST(PlanV2Io, BfqTakesWeightsUnconverted) {
  V2State s = AllControllers();
  s.has_io_bfq_weight = true;
  auto plan = Plan(Io(), s);
  EXPECT_EQ(plan[0], (W{"io", "io.bfq.weight", "500"}));
  EXPECT_EQ(plan[1], (W{"io", "io.bfq.weight", "8:0 100"}));
}

TEST(PlanV2, Hugetlb) {
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 2 * kMiB}};
  EXPECT_THAT(Plan(r), ElementsAre(W{"hugetlb", "hugetlb.2MB.max", "2097152"}));
  r.hugepage_limits = {{"4MB", 1}};
  EXPECT_THAT(PlanError(r), HasSubstr("page size \"4MB\" is not supported"));
}

TEST(PlanV2, DeviceRulesAreNotPlannedAndNeedNoController) {
  oci::Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  V2State s;  // no controllers at all
  EXPECT_TRUE(Plan(r, s).empty());
}

TEST(PlanV2, UnifiedWrittenLastAndChecked) {
  oci::Resources r;
  r.pids = oci::PidsResources{5};
  r.unified["memory.high"] = "1G";
  r.unified["cgroup.max.descendants"] = "10";
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "5"}, W{"cgroup", "cgroup.max.descendants", "10"},
                                   W{"memory", "memory.high", "1G"}));
  r.unified = {{"rdma.max", "x"}};
  EXPECT_THAT(PlanError(r), HasSubstr("\"rdma.max\" needs the \"rdma\" controller"));
  for (const char* bad : {"../memory.max", "nodot", ".hidden", "memory.", ""}) {
    r.unified = {{bad, "1"}};
    EXPECT_THAT(PlanError(r), HasSubstr("is not a cgroup file name")) << bad;
  }
}

TEST(PlanV2, MissingControllerNamesV2Name) {
  V2State s;
  s.controllers = {"memory", "pids"};
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 0}};
  EXPECT_EQ(PlanError(r, s),
            "cgroup controller \"hugetlb\" is not available on this host; remove linux.resources.hugepageLimits");
  r.hugepage_limits.clear();
  r.block_io.emplace();
  r.block_io->weight = 100;
  EXPECT_EQ(PlanError(r, s), "cgroup controller \"io\" is not available on this host; remove linux.resources.blockIO");
  r.block_io.reset();
  r.pids = oci::PidsResources{1};
  EXPECT_TRUE(PlanV2Writes(r, s));
}

}  // namespace
}  // namespace moor::runtime::cgroups
