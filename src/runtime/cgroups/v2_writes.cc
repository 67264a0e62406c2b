// Resources → cgroup v2 writes.
#include <algorithm>

#include "common/strings.h"
#include "runtime/cgroups/checks.h"
#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {

namespace {

using Writes = std::vector<CgroupWrite>;

bool Set(const std::optional<int64_t>& v) { return v && *v != 0; }
bool Set(const std::optional<uint64_t>& v) { return v && *v != 0; }
bool Set(const std::optional<uint16_t>& v) { return v && *v != 0; }

Result<void> PlanMemory(const oci::MemoryResources& m, const V2State& s, Writes& w) {
  TRY(CheckMemory(m));
  int64_t limit = m.limit.value_or(0);
  std::optional<int64_t> swap = TRY(SwapToV2(m.swap.value_or(0), limit));
  if (swap && !s.has_swap_max) {
    if (*swap != -1)
      return FailInvalid(
          "linux.resources.memory.swap: this host has no swap accounting (memory.swap.max is missing; boot with "
          "swapaccount=1) — remove the swap limit");
    swap.reset();  // nothing to lift
  }
  if (m.check_before_update.value_or(false) && limit > 0 && s.memory_current &&
      *s.memory_current > static_cast<uint64_t>(limit))
    return FailInvalid("linux.resources.memory.limit: " + std::to_string(limit) + " is below the current usage " +
                       std::to_string(*s.memory_current) + " and checkBeforeUpdate is set; give a higher limit");
  if (swap) w.push_back({"memory", "memory.swap.max", Num(*swap, "max")});
  if (limit != 0) w.push_back({"memory", "memory.max", Num(limit, "max")});
  if (Set(m.reservation)) w.push_back({"memory", "memory.low", Num(*m.reservation, "max")});
  // swappiness, disableOOMKiller, kernel and kernelTCP have no v2 file; ignored as runc does.
  return {};
}

Result<void> PlanCpu(const oci::CpuResources& c, const V2State& s, Writes& w) {
  TRY(CheckShares(c));
  if (Set(c.realtime_runtime) || Set(c.realtime_period))
    return FailInvalid(
        "linux.resources.cpu.realtimeRuntime/realtimePeriod: real-time limits need cgroup v1; remove them");
  if (c.quota && *c.quota < -1)
    return FailInvalid("linux.resources.cpu.quota: " + std::to_string(*c.quota) +
                       " is invalid; give microseconds per period, or -1 for unlimited");
  if (c.idle && *c.idle != 0 && *c.idle != 1)
    return FailInvalid("linux.resources.cpu.idle: " + std::to_string(*c.idle) + " is invalid; use 0 or 1");
  if (Set(c.shares)) w.push_back({"cpu", "cpu.weight", std::to_string(CpuSharesToWeight(*c.shares))});
  if (Set(c.quota) || Set(c.period)) {
    std::string quota;
    if (Set(c.quota)) {
      quota = Num(*c.quota, "max");
    } else {  // period only: keep the current quota
      std::string current = s.cpu_max ? std::string(Trim(*s.cpu_max)) : "";
      quota = current.empty() ? "max" : current.substr(0, current.find(' '));
    }
    w.push_back({"cpu", "cpu.max", Set(c.period) ? quota + " " + std::to_string(*c.period) : quota});
  }
  if (c.idle) w.push_back({"cpu", "cpu.idle", std::to_string(*c.idle)});
  if (!c.cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", c.cpus});
  if (!c.mems.empty()) w.push_back({"cpuset", "cpuset.mems", c.mems});
  return {};
}

Result<void> PlanIo(const oci::BlockIoResources& b, const V2State& s, Writes& w) {
  TRY(CheckBlkioWeights(b));
  // BFQ takes blkio's 10..1000 scale as is; io.weight needs 1..10000.
  auto weight = [&](uint16_t v) { return std::to_string(s.has_io_bfq_weight ? v : BlkioWeightToIoWeight(v)); };
  const char* weight_file = s.has_io_bfq_weight ? "io.bfq.weight" : "io.weight";
  if (Set(b.weight)) w.push_back({"io", weight_file, weight(*b.weight)});
  for (const oci::WeightDevice& d : b.weight_device)
    if (Set(d.weight)) w.push_back({"io", weight_file, DeviceNumber(d.major, d.minor) + " " + weight(*d.weight)});
  // leafWeight has no v2 equivalent; ignored as runc does.

  // One io.max line per device with every limit given for it. A rate of 0
  // removes the limit on v1, so it is "max" here.
  struct Limits {
    std::string device;
    std::string keys;
  };
  std::vector<Limits> devices;
  auto add = [&](const std::vector<oci::ThrottleDevice>& list, const char* key) {
    for (const oci::ThrottleDevice& t : list) {
      std::string dev = DeviceNumber(t.major, t.minor);
      auto it = std::find_if(devices.begin(), devices.end(), [&](const Limits& l) { return l.device == dev; });
      if (it == devices.end()) it = devices.insert(devices.end(), Limits{dev, ""});
      it->keys += std::string(" ") + key + "=" + (t.rate == 0 ? std::string("max") : std::to_string(t.rate));
    }
  };
  add(b.throttle_read_bps_device, "rbps");
  add(b.throttle_write_bps_device, "wbps");
  add(b.throttle_read_iops_device, "riops");
  add(b.throttle_write_iops_device, "wiops");
  for (const Limits& l : devices) w.push_back({"io", "io.max", l.device + l.keys});
  return {};
}

}  // namespace

uint64_t CpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t BlkioWeightToIoWeight(uint64_t weight) {
  if (weight == 0) return 0;
  if (weight <= 10) return 1;
  return 1 + ((weight - 10) * 9999) / 990;
}

Result<std::optional<int64_t>> SwapToV2(int64_t swap, int64_t limit) {
  if (limit == -1 && swap == 0) return -1;
  if (swap == 0) return std::nullopt;
  if (swap == -1) return -1;
  if (limit == 0 || limit == -1)
    return FailInvalid("linux.resources.memory.swap: a swap limit needs memory.limit too (swap counts memory plus "
                       "swap); set both");
  if (swap < limit || limit < 0)
    return FailInvalid("linux.resources.memory.swap: " + std::to_string(swap) + " is below memory.limit " +
                       std::to_string(limit) + "; swap counts memory plus swap, so it must be at least the limit");
  return swap - limit;
}

Result<std::vector<CgroupWrite>> PlanV2Writes(const oci::Resources& r, const V2State& s) {
  TRY(CheckControllers(r, s.controllers, /*v2=*/true));
  Writes w;
  if (r.memory) TRY(PlanMemory(*r.memory, s, w));
  if (r.cpu) TRY(PlanCpu(*r.cpu, s, w));
  if (r.pids) w.push_back({"pids", "pids.max", r.pids->limit > 0 ? std::to_string(r.pids->limit) : "max"});
  if (r.block_io) TRY(PlanIo(*r.block_io, s, w));
  TRY(CheckHugepageSizes(r.hugepage_limits, s.hugepage_sizes));
  for (const oci::HugepageLimit& h : r.hugepage_limits)
    w.push_back({"hugetlb", "hugetlb." + h.page_size + ".max", std::to_string(h.limit)});
  // Device rules need an eBPF program on v2: not planned here (SupportsDeviceRules() is false).
  for (const auto& [key, value] : r.unified) {  // last, so raw keys override the fields above
    std::string controller = TRY(UnifiedKeyController(key));
    if (controller != "cgroup" && !s.controllers.count(controller))
      return FailInvalid("linux.resources.unified: \"" + key + "\" needs the \"" + controller +
                         "\" controller, which this cgroup does not have; remove the key");
    w.push_back({controller, key, value});
  }
  return w;
}

}  // namespace moor::runtime::cgroups
