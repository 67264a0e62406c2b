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

V1State AllControllers() {
  V1State s;
  s.controllers = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb"};
  s.hugepage_sizes = {"2MB", "1GB"};
  return s;
}

std::vector<CgroupWrite> Plan(const oci::Resources& r, const V1State& s = AllControllers()) {
  auto p = PlanV1Writes(r, s);
  EXPECT_TRUE(p) << p.error().message();
  return p ? *p : std::vector<CgroupWrite>{};
}

std::string PlanError(const oci::Resources& r, const V1State& s = AllControllers()) {
  auto p = PlanV1Writes(r, s);
  EXPECT_FALSE(p);
  return p ? "" : p.error().message();
}

oci::Resources Memory(std::optional<int64_t> limit, std::optional<int64_t> swap) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = limit;
  r.memory->swap = swap;
  return r;
}

TEST(PlanV1Memory, NewCgroupWritesLimitBeforeSwap) {
  EXPECT_THAT(Plan(Memory(100 * kMiB, 200 * kMiB)),
              ElementsAre(W{"memory", "memory.limit_in_bytes", "104857600"},
                          W{"memory", "memory.memsw.limit_in_bytes", "209715200"}));
}

TEST(PlanV1Memory, RaisingWritesSwapFirst) {
  V1State s = AllControllers();
  s.memory_limit = 100 * kMiB;
  EXPECT_THAT(Plan(Memory(300 * kMiB, 400 * kMiB), s),
              ElementsAre(W{"memory", "memory.memsw.limit_in_bytes", "419430400"},
                          W{"memory", "memory.limit_in_bytes", "314572800"}));
}

TEST(PlanV1Memory, LoweringWritesLimitFirst) {
  V1State s = AllControllers();
  s.memory_limit = 300 * kMiB;
  EXPECT_THAT(Plan(Memory(50 * kMiB, 60 * kMiB), s),
              ElementsAre(W{"memory", "memory.limit_in_bytes", "52428800"},
                          W{"memory", "memory.memsw.limit_in_bytes", "62914560"}));
  // New swap equal to the current limit: the limit must shrink first too.
  EXPECT_EQ(Plan(Memory(10 * kMiB, 300 * kMiB), s).front().file, "memory.limit_in_bytes");
}

TEST(PlanV1Memory, UnlimitedSwapGoesFirst) {
  V1State s = AllControllers();
  s.memory_limit = 10 * kMiB;
  EXPECT_THAT(Plan(Memory(5 * kMiB, -1), s), ElementsAre(W{"memory", "memory.memsw.limit_in_bytes", "-1"},
                                                          W{"memory", "memory.limit_in_bytes", "5242880"}));
}

TEST(PlanV1Memory, UnlimitedLimitLiftsSwapToo) {
  EXPECT_THAT(Plan(Memory(-1, std::nullopt)), ElementsAre(W{"memory", "memory.memsw.limit_in_bytes", "-1"},
                                                          W{"memory", "memory.limit_in_bytes", "-1"}));
  V1State no_swap = AllControllers();
  no_swap.has_memsw = false;
  EXPECT_THAT(Plan(Memory(-1, std::nullopt), no_swap), ElementsAre(W{"memory", "memory.limit_in_bytes", "-1"}));
}

TEST(PlanV1Memory, SwapWithoutSwapAccounting) {
  V1State s = AllControllers();
  s.has_memsw = false;
  EXPECT_THAT(PlanError(Memory(100, 200), s), HasSubstr("no swap accounting"));
  EXPECT_THAT(Plan(Memory(100, -1), s), ElementsAre(W{"memory", "memory.limit_in_bytes", "100"}));
}

TEST(PlanV1Memory, OneSideOnlyAndZeroMeansUnset) {
  EXPECT_THAT(Plan(Memory(4096, std::nullopt)), ElementsAre(W{"memory", "memory.limit_in_bytes", "4096"}));
  EXPECT_THAT(Plan(Memory(std::nullopt, 8192)), ElementsAre(W{"memory", "memory.memsw.limit_in_bytes", "8192"}));
  EXPECT_TRUE(Plan(Memory(0, 0)).empty());
  EXPECT_TRUE(Plan(Memory(std::nullopt, std::nullopt)).empty());
}

TEST(PlanV1Memory, OtherKnobs) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->reservation = 64 * kMiB;
  r.memory->kernel_tcp = 1 * kMiB;
  r.memory->kernel = 5 * kMiB;  // deprecated: ignored
  r.memory->swappiness = 0;
  r.memory->disable_oom_killer = true;
  EXPECT_THAT(Plan(r), ElementsAre(W{"memory", "memory.soft_limit_in_bytes", "67108864"},
                                   W{"memory", "memory.kmem.tcp.limit_in_bytes", "1048576"},
                                   W{"memory", "memory.swappiness", "0"}, W{"memory", "memory.oom_control", "1"}));
  r.memory = oci::MemoryResources{};
  r.memory->disable_oom_killer = false;
  r.memory->reservation = -1;
  EXPECT_THAT(Plan(r), ElementsAre(W{"memory", "memory.soft_limit_in_bytes", "-1"},
                                   W{"memory", "memory.oom_control", "0"}));
}

TEST(PlanV1Memory, BadValues) {
  EXPECT_THAT(PlanError(Memory(-2, std::nullopt)), HasSubstr("linux.resources.memory.limit: -2 is invalid"));
  EXPECT_THAT(PlanError(Memory(std::nullopt, -5)), HasSubstr("memory.swap: -5 is invalid"));
  EXPECT_THAT(PlanError(Memory(200, 100)), HasSubstr("is below memory.limit"));
  EXPECT_THAT(PlanError(Memory(-1, 100)), HasSubstr("while memory.limit is -1"));
  oci::Resources r;
  r.memory.emplace();
  r.memory->swappiness = 101;
  EXPECT_THAT(PlanError(r), HasSubstr("swappiness: 101 is out of range"));
}

oci::Resources Cpu(const oci::CpuResources& c) {
  oci::Resources r;
  r.cpu = c;
  return r;
}

TEST(PlanV1Cpu, SharesQuotaPeriodOrder) {
  oci::CpuResources c;
  c.shares = 512;
  c.quota = 50000;
  c.period = 100000;
  EXPECT_THAT(Plan(Cpu(c)), ElementsAre(W{"cpu", "cpu.shares", "512"},
                                        W{"cpu", "cpu.cfs_period_us", "100000", /*retried_later=*/true},
                                        W{"cpu", "cpu.cfs_quota_us", "50000"}, W{"cpu", "cpu.cfs_period_us", "100000"}));
}

TEST(PlanV1Cpu, QuotaOrPeriodAlone) {
  oci::CpuResources q;
  q.quota = -1;
  EXPECT_THAT(Plan(Cpu(q)), ElementsAre(W{"cpu", "cpu.cfs_quota_us", "-1"}));
  oci::CpuResources p;
  p.period = 20000;
  EXPECT_THAT(Plan(Cpu(p)), ElementsAre(W{"cpu", "cpu.cfs_period_us", "20000"}));
}

TEST(PlanV1Cpu, RealtimeIdleAndCpuset) {
  oci::CpuResources c;
  c.realtime_period = 1000000;
  c.realtime_runtime = 950000;
  c.idle = 1;
  c.cpus = "0-1";
  c.mems = "0";
  EXPECT_THAT(Plan(Cpu(c)), ElementsAre(W{"cpu", "cpu.rt_period_us", "1000000"},
                                        W{"cpu", "cpu.rt_runtime_us", "950000"}, W{"cpu", "cpu.idle", "1"},
                                        W{"cpuset", "cpuset.cpus", "0-1"}, W{"cpuset", "cpuset.mems", "0"}));
}

TEST(PlanV1Cpu, BadValues) {
  oci::CpuResources c;
  c.shares = 1;
  EXPECT_THAT(PlanError(Cpu(c)), HasSubstr("linux.resources.cpu.shares: 1 is out of range; use 2 to 262144"));
  c.shares = 262145;
  EXPECT_THAT(PlanError(Cpu(c)), HasSubstr("262145 is out of range"));
  c.shares = 262144;
  EXPECT_TRUE(PlanV1Writes(Cpu(c), AllControllers()));
  oci::CpuResources q;
  q.quota = -2;
  EXPECT_THAT(PlanError(Cpu(q)), HasSubstr("cpu.quota: -2 is invalid"));
  oci::CpuResources i;
  i.idle = 2;
  EXPECT_THAT(PlanError(Cpu(i)), HasSubstr("cpu.idle: 2 is invalid"));
}

TEST(PlanV1Cpu, NegativeSharesAreRejectedWhenParsed) {
  auto r = oci::ParseResources(R"({"cpu": {"shares": -5}})");
  EXPECT_FALSE(r);
}

TEST(PlanV1Pids, LimitAndMax) {
  oci::Resources r;
  r.pids = oci::PidsResources{10};
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "10"}));
  r.pids->limit = 0;
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "max"}));
  r.pids->limit = -1;
  EXPECT_THAT(Plan(r), ElementsAre(W{"pids", "pids.max", "max"}));
}

oci::Resources Blkio() {
  oci::Resources r;
  r.block_io.emplace();
  auto& b = *r.block_io;
  b.weight = 500;
  b.leaf_weight = 300;
  b.weight_device.push_back({8, 0, 600, 200});
  b.weight_device.push_back({8, 16, std::nullopt, std::nullopt});
  b.throttle_read_bps_device.push_back({8, 0, 1048576});
  b.throttle_write_bps_device.push_back({8, 0, 2097152});
  b.throttle_read_iops_device.push_back({8, 16, 100});
  b.throttle_write_iops_device.push_back({8, 16, 0});
  return r;
}

TEST(PlanV1Blkio, EveryFile) {
  EXPECT_THAT(Plan(Blkio()),
              ElementsAre(W{"blkio", "blkio.weight", "500"}, W{"blkio", "blkio.leaf_weight", "300"},
                          W{"blkio", "blkio.weight_device", "8:0 600"},
                          W{"blkio", "blkio.leaf_weight_device", "8:0 200"},
                          W{"blkio", "blkio.throttle.read_bps_device", "8:0 1048576"},
                          W{"blkio", "blkio.throttle.write_bps_device", "8:0 2097152"},
                          W{"blkio", "blkio.throttle.read_iops_device", "8:16 100"},
                          W{"blkio", "blkio.throttle.write_iops_device", "8:16 0"}));
}

TEST(PlanV1Blkio, BfqWeightFiles) {
  V1State s = AllControllers();
  s.blkio_weight_prefix = "blkio.bfq.";
  auto plan = Plan(Blkio(), s);
  EXPECT_EQ(plan[0], (W{"blkio", "blkio.bfq.weight", "500"}));
  EXPECT_EQ(plan[2], (W{"blkio", "blkio.bfq.weight_device", "8:0 600"}));
}

TEST(PlanV1Blkio, WeightRange) {
  oci::Resources r;
  r.block_io.emplace();
  r.block_io->weight = 5;
  EXPECT_THAT(PlanError(r), HasSubstr("blockIO.weight: 5 is out of range; use 10 to 1000"));
  r.block_io->weight = 1001;
  EXPECT_THAT(PlanError(r), HasSubstr("out of range"));
}

TEST(PlanV1Hugetlb, FilesAndSizes) {
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 4 * 2 * kMiB}, {"1GB", 0}};
  EXPECT_THAT(Plan(r), ElementsAre(W{"hugetlb", "hugetlb.2MB.limit_in_bytes", "8388608"},
                                   W{"hugetlb", "hugetlb.1GB.limit_in_bytes", "0"}));
  r.hugepage_limits = {{"3MB", 1}};
  EXPECT_THAT(PlanError(r), HasSubstr("page size \"3MB\" is not supported by this host (supported: 2MB, 1GB)"));
}

TEST(PlanV1Devices, RulesInOrder) {
  oci::Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "b", 8, std::nullopt, "r"});
  r.devices.push_back({true, "c", -1, -1, "m"});
  r.devices.push_back({false, "", std::nullopt, std::nullopt, ""});
  r.devices.push_back({true, "a", 5, 1, "rw"});
  EXPECT_THAT(Plan(r), ElementsAre(W{"devices", "devices.deny", "a *:* rwm"}, W{"devices", "devices.allow", "c 1:3 rwm"},
                                   W{"devices", "devices.allow", "b 8:* r"}, W{"devices", "devices.allow", "c *:* m"},
                                   W{"devices", "devices.deny", "a *:* rwm"},
                                   W{"devices", "devices.allow", "a *:* rw"}));
}

TEST(PlanV1Devices, BadRules) {
  oci::Resources r;
  r.devices.push_back({true, "x", 1, 3, "rwm"});
  EXPECT_THAT(PlanError(r), HasSubstr("type \"x\" is invalid"));
  r.devices = {{true, "c", 1, 3, "rwx"}};
  EXPECT_THAT(PlanError(r), HasSubstr("access \"rwx\" is invalid"));
  r.devices = {{true, "c", 1, 3, "rr"}};
  EXPECT_THAT(PlanError(r), HasSubstr("access \"rr\" is invalid"));
  r.devices = {{true, "c", -7, 3, "r"}};
  EXPECT_THAT(PlanError(r), HasSubstr("major -7 is invalid"));
}

TEST(PlanV1, UnifiedNeedsV2) {
  oci::Resources r;
  r.unified["memory.high"] = "1G";
  EXPECT_THAT(PlanError(r), HasSubstr("linux.resources.unified: \"memory.high\" needs cgroup v2"));
}

TEST(PlanV1, MissingControllerOnlyMattersWhenUsed) {
  V1State s;
  s.controllers = {"memory"};
  oci::Resources r = Memory(100, std::nullopt);
  r.cpu.emplace();  // present but empty: uses nothing
  r.block_io.emplace();
  EXPECT_TRUE(PlanV1Writes(r, s));
  r.hugepage_limits = {{"2MB", 0}};
  EXPECT_EQ(PlanError(r, s),
            "cgroup controller \"hugetlb\" is not available on this host; remove linux.resources.hugepageLimits");
  r.hugepage_limits.clear();
  r.pids = oci::PidsResources{5};
  EXPECT_EQ(PlanError(r, s), "cgroup controller \"pids\" is not available on this host; remove linux.resources.pids");
  r.pids.reset();
  r.cpu->cpus = "0";
  EXPECT_THAT(PlanError(r, s), HasSubstr("\"cpuset\" is not available"));
  r.cpu->cpus.clear();
  r.devices.push_back({true, "c", 1, 3, "r"});
  EXPECT_THAT(PlanError(r, s), HasSubstr("\"devices\" is not available"));
}

TEST(PlanV1, EmptyResourcesWriteNothing) { EXPECT_TRUE(Plan(oci::Resources{}).empty()); }

TEST(PlanV1, FromParsedSpec) {
  auto r = oci::ParseResources(R"({
    "memory": {"limit": 1048576, "swap": 2097152},
    "cpu": {"shares": 1024, "quota": 20000, "period": 100000, "cpus": "0"},
    "pids": {"limit": 32},
    "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
  })");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_THAT(Plan(*r), ElementsAre(W{"memory", "memory.limit_in_bytes", "1048576"},
                                    W{"memory", "memory.memsw.limit_in_bytes", "2097152"},
                                    W{"cpu", "cpu.shares", "1024"}, W{"cpu", "cpu.cfs_period_us", "100000", true},
                                    W{"cpu", "cpu.cfs_quota_us", "20000"}, W{"cpu", "cpu.cfs_period_us", "100000"},
                                    W{"cpuset", "cpuset.cpus", "0"}, W{"pids", "pids.max", "32"},
                                    W{"devices", "devices.deny", "a *:* rwm"},
                                    W{"devices", "devices.allow", "c 1:3 rwm"}));
}

}  // namespace
}  // namespace moor::runtime::cgroups
