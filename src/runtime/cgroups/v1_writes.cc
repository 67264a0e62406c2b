// Resources → cgroup v1 writes.
#include <limits>

#include "runtime/cgroups/checks.h"
#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {

namespace {

using Writes = std::vector<CgroupWrite>;

bool Set(const std::optional<int64_t>& v) { return v && *v != 0; }
bool Set(const std::optional<uint64_t>& v) { return v && *v != 0; }
bool Set(const std::optional<uint16_t>& v) { return v && *v != 0; }

// memory.limit_in_bytes must never exceed memory.memsw.limit_in_bytes, before or
// after each write: when memsw grows past the current limit it goes first, else
// the limit shrinks first.
Result<void> PlanMemory(const oci::MemoryResources& m, const V1State& s, Writes& w) {
  TRY(CheckMemory(m));
  int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
  if (limit == -1 && swap == 0 && s.has_memsw) swap = -1;  // unlimited memory means unlimited swap too
  if (swap != 0 && !s.has_memsw) {
    if (swap != -1)
      return FailInvalid(
          "linux.resources.memory.swap: this host has no swap accounting (memory.memsw.limit_in_bytes is missing; "
          "boot with swapaccount=1) — remove the swap limit");
    swap = 0;  // nothing to lift
  }
  CgroupWrite lw{"memory", "memory.limit_in_bytes", Num(limit, "-1")};
  CgroupWrite sw{"memory", "memory.memsw.limit_in_bytes", Num(swap, "-1")};
  if (limit != 0 && swap != 0) {
    uint64_t current = s.memory_limit.value_or(std::numeric_limits<uint64_t>::max());
    if (swap == -1 || current < static_cast<uint64_t>(swap)) {
      w.push_back(sw);
      w.push_back(lw);
    } else {
      w.push_back(lw);
      w.push_back(sw);
    }
  } else if (limit != 0) {
    w.push_back(lw);
  } else if (swap != 0) {
    w.push_back(sw);
  }
  if (Set(m.reservation)) w.push_back({"memory", "memory.soft_limit_in_bytes", Num(*m.reservation, "-1")});
  if (Set(m.kernel_tcp)) w.push_back({"memory", "memory.kmem.tcp.limit_in_bytes", Num(*m.kernel_tcp, "-1")});
  if (m.swappiness) w.push_back({"memory", "memory.swappiness", std::to_string(*m.swappiness)});
  if (m.disable_oom_killer) w.push_back({"memory", "memory.oom_control", *m.disable_oom_killer ? "1" : "0"});
  // memory.kernel (kmem.limit_in_bytes) is deprecated and rejected by current
  // kernels; memory.useHierarchy is always on. Both are ignored, as runc does.
  return {};
}

Result<void> PlanCpu(const oci::CpuResources& c, Writes& w) {
  TRY(CheckShares(c));
  if (c.quota && *c.quota < -1)
    return FailInvalid("linux.resources.cpu.quota: " + std::to_string(*c.quota) +
                       " is invalid; give microseconds per period, or -1 for unlimited");
  if (c.realtime_runtime && *c.realtime_runtime < -1)
    return FailInvalid("linux.resources.cpu.realtimeRuntime: " + std::to_string(*c.realtime_runtime) +
                       " is invalid; give microseconds, or -1 for unlimited");
  if (c.idle && *c.idle != 0 && *c.idle != 1)
    return FailInvalid("linux.resources.cpu.idle: " + std::to_string(*c.idle) + " is invalid; use 0 or 1");
  if (Set(c.shares)) w.push_back({"cpu", "cpu.shares", std::to_string(*c.shares)});
  bool quota = Set(c.quota);
  if (Set(c.period)) w.push_back({"cpu", "cpu.cfs_period_us", std::to_string(*c.period), quota});
  if (quota) {
    w.push_back({"cpu", "cpu.cfs_quota_us", Num(*c.quota, "-1")});
    if (Set(c.period)) w.push_back({"cpu", "cpu.cfs_period_us", std::to_string(*c.period)});
  }
  if (Set(c.realtime_period)) w.push_back({"cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period)});
  if (Set(c.realtime_runtime)) w.push_back({"cpu", "cpu.rt_runtime_us", Num(*c.realtime_runtime, "-1")});
  if (c.idle) w.push_back({"cpu", "cpu.idle", std::to_string(*c.idle)});
  if (!c.cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", c.cpus});
  if (!c.mems.empty()) w.push_back({"cpuset", "cpuset.mems", c.mems});
  return {};
}

Result<void> PlanBlkio(const oci::BlockIoResources& b, const V1State& s, Writes& w) {
  TRY(CheckBlkioWeights(b));
  const std::string& p = s.blkio_weight_prefix;
  if (Set(b.weight)) w.push_back({"blkio", p + "weight", std::to_string(*b.weight)});
  if (Set(b.leaf_weight)) w.push_back({"blkio", "blkio.leaf_weight", std::to_string(*b.leaf_weight)});
  for (const oci::WeightDevice& d : b.weight_device) {
    if (Set(d.weight))
      w.push_back({"blkio", p + "weight_device", DeviceNumber(d.major, d.minor) + " " + std::to_string(*d.weight)});
    if (Set(d.leaf_weight))
      w.push_back({"blkio", "blkio.leaf_weight_device",
                   DeviceNumber(d.major, d.minor) + " " + std::to_string(*d.leaf_weight)});
  }
  auto throttle = [&](const std::vector<oci::ThrottleDevice>& list, const char* file) {
    for (const oci::ThrottleDevice& t : list)
      w.push_back({"blkio", file, DeviceNumber(t.major, t.minor) + " " + std::to_string(t.rate)});
  };
  throttle(b.throttle_read_bps_device, "blkio.throttle.read_bps_device");
  throttle(b.throttle_write_bps_device, "blkio.throttle.write_bps_device");
  throttle(b.throttle_read_iops_device, "blkio.throttle.read_iops_device");
  throttle(b.throttle_write_iops_device, "blkio.throttle.write_iops_device");
  return {};
}

}  // namespace

Result<std::vector<CgroupWrite>> PlanV1Writes(const oci::Resources& r, const V1State& s) {
  if (!r.unified.empty()) {
    const std::string& key = r.unified.begin()->first;
    return FailInvalid("linux.resources.unified: \"" + key +
                       "\" needs cgroup v2, but this host manages that controller through cgroup v1; remove the key "
                       "or use the matching linux.resources field");
  }
  TRY(CheckControllers(r, s.controllers, /*v2=*/false));
  Writes w;
  if (r.memory) TRY(PlanMemory(*r.memory, s, w));
  if (r.cpu) TRY(PlanCpu(*r.cpu, w));
  if (r.pids) w.push_back({"pids", "pids.max", r.pids->limit > 0 ? std::to_string(r.pids->limit) : "max"});
  if (r.block_io) TRY(PlanBlkio(*r.block_io, s, w));
  TRY(CheckHugepageSizes(r.hugepage_limits, s.hugepage_sizes));
  for (const oci::HugepageLimit& h : r.hugepage_limits)
    w.push_back({"hugetlb", "hugetlb." + h.page_size + ".limit_in_bytes", std::to_string(h.limit)});
  for (const oci::DeviceCgroupRule& d : r.devices) {
    std::string line = TRY(DeviceRuleLine(d));
    w.push_back({"devices", d.allow ? "devices.allow" : "devices.deny", line});
  }
  return w;
}

}  // namespace moor::runtime::cgroups
