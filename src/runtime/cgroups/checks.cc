#include "runtime/cgroups/checks.h"

#include <algorithm>

#include "common/strings.h"

namespace moor::runtime::cgroups {

namespace {

bool Set(const std::optional<int64_t>& v) { return v && *v != 0; }
bool Set(const std::optional<uint64_t>& v) { return v && *v != 0; }
bool Set(const std::optional<uint16_t>& v) { return v && *v != 0; }

Result<void> CheckBytes(const std::optional<int64_t>& v, std::string_view field) {
  if (v && *v < -1)
    return FailInvalid("linux.resources.memory." + std::string(field) + ": " + std::to_string(*v) +
                       " is invalid; give a byte count, or -1 for unlimited");
  return {};
}

}  // namespace

std::vector<ControllerUse> ControllersUsed(const oci::Resources& r) {
  std::vector<ControllerUse> out;
  if (!r.devices.empty()) out.push_back({"devices", "linux.resources.devices"});
  if (const auto& m = r.memory) {
    if (Set(m->limit) || Set(m->reservation) || Set(m->swap) || Set(m->kernel_tcp) || m->swappiness ||
        m->disable_oom_killer)
      out.push_back({"memory", "linux.resources.memory"});
  }
  if (const auto& c = r.cpu) {
    if (Set(c->shares) || Set(c->quota) || Set(c->period) || Set(c->realtime_runtime) || Set(c->realtime_period) ||
        c->idle)
      out.push_back({"cpu", "linux.resources.cpu"});
    if (!c->cpus.empty() || !c->mems.empty()) out.push_back({"cpuset", "linux.resources.cpu.cpus/mems"});
  }
  if (r.pids) out.push_back({"pids", "linux.resources.pids"});
  if (const auto& b = r.block_io) {
    if (Set(b->weight) || Set(b->leaf_weight) || !b->weight_device.empty() || !b->throttle_read_bps_device.empty() ||
        !b->throttle_write_bps_device.empty() || !b->throttle_read_iops_device.empty() ||
        !b->throttle_write_iops_device.empty())
      out.push_back({"blkio", "linux.resources.blockIO"});
  }
  if (!r.hugepage_limits.empty()) out.push_back({"hugetlb", "linux.resources.hugepageLimits"});
  return out;
}

std::string V2ControllerName(std::string_view v1_name) {
  return v1_name == "blkio" ? std::string("io") : std::string(v1_name);
}

Error MissingController(std::string_view controller, std::string_view field) {
  return Error::Invalid("cgroup controller \"" + std::string(controller) + "\" is not available on this host; remove " +
                        std::string(field));
}

Result<void> CheckControllers(const oci::Resources& r, const std::set<std::string>& available, bool v2) {
  for (const ControllerUse& use : ControllersUsed(r)) {
    if (v2 && use.controller == "devices") continue;  // eBPF, not a controller; see SupportsDeviceRules()
    std::string name = v2 ? V2ControllerName(use.controller) : use.controller;
    if (!available.count(name)) return Fail(MissingController(name, use.field));
  }
  return {};
}

Result<void> CheckShares(const oci::CpuResources& cpu) {
  if (cpu.shares && *cpu.shares != 0 && (*cpu.shares < 2 || *cpu.shares > 262144))
    return FailInvalid("linux.resources.cpu.shares: " + std::to_string(*cpu.shares) +
                       " is out of range; use 2 to 262144 (1024 is the default weight)");
  return {};
}

Result<void> CheckBlkioWeights(const oci::BlockIoResources& b) {
  auto check = [](const std::optional<uint16_t>& w, const std::string& field) -> Result<void> {
    if (w && *w != 0 && (*w < 10 || *w > 1000))
      return FailInvalid("linux.resources.blockIO." + field + ": " + std::to_string(*w) +
                         " is out of range; use 10 to 1000");
    return {};
  };
  TRY(check(b.weight, "weight"));
  TRY(check(b.leaf_weight, "leafWeight"));
  for (const oci::WeightDevice& d : b.weight_device) {
    TRY(check(d.weight, "weightDevice.weight"));
    TRY(check(d.leaf_weight, "weightDevice.leafWeight"));
  }
  return {};
}

Result<void> CheckHugepageSizes(const std::vector<oci::HugepageLimit>& limits, const std::vector<std::string>& sizes) {
  for (const oci::HugepageLimit& h : limits) {
    if (std::find(sizes.begin(), sizes.end(), h.page_size) == sizes.end())
      return FailInvalid("linux.resources.hugepageLimits: page size \"" + h.page_size +
                         "\" is not supported by this host (supported: " +
                         (sizes.empty() ? std::string("none") : Join(sizes, ", ")) + ")");
  }
  return {};
}

Result<void> CheckMemory(const oci::MemoryResources& m) {
  TRY(CheckBytes(m.limit, "limit"));
  TRY(CheckBytes(m.reservation, "reservation"));
  TRY(CheckBytes(m.swap, "swap"));
  TRY(CheckBytes(m.kernel_tcp, "kernelTCP"));
  int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
  if (swap > 0 && limit == -1)
    return FailInvalid("linux.resources.memory.swap: cannot limit memory+swap while memory.limit is -1 (unlimited); "
                       "set a limit or make swap -1");
  if (swap > 0 && limit > 0 && swap < limit)
    return FailInvalid("linux.resources.memory.swap: " + std::to_string(swap) + " is below memory.limit " +
                       std::to_string(limit) + "; swap counts memory plus swap, so it must be at least the limit");
  if (m.swappiness && *m.swappiness > 100)
    return FailInvalid("linux.resources.memory.swappiness: " + std::to_string(*m.swappiness) +
                       " is out of range; use 0 to 100");
  return {};
}

Result<std::string> DeviceRuleLine(const oci::DeviceCgroupRule& rule) {
  std::string type = rule.type.empty() ? "a" : rule.type;
  if (type != "a" && type != "c" && type != "b")
    return FailInvalid("linux.resources.devices: type \"" + rule.type + "\" is invalid; use a, c or b");
  std::string access = rule.access.empty() ? "rwm" : rule.access;
  for (size_t i = 0; i < access.size(); ++i) {
    if (std::string_view("rwm").find(access[i]) == std::string_view::npos ||
        access.find(access[i], i + 1) != std::string::npos)
      return FailInvalid("linux.resources.devices: access \"" + rule.access +
                         "\" is invalid; use a combination of r, w and m");
  }
  auto number = [](const std::optional<int64_t>& n, const char* what) -> Result<std::string> {
    if (!n || *n == -1) return std::string("*");
    if (*n < 0)
      return FailInvalid(std::string("linux.resources.devices: ") + what + " " + std::to_string(*n) +
                         " is invalid; omit it (or use -1) for any");
    return std::to_string(*n);
  };
  std::string major = TRY(number(rule.major, "major")), minor = TRY(number(rule.minor, "minor"));
  if (type == "a") major = minor = "*";  // the kernel reads any "a" rule as all devices
  return type + " " + major + ":" + minor + " " + access;
}

Result<std::string> UnifiedKeyController(std::string_view key) {
  size_t dot = key.find('.');
  if (key.empty() || key.find('/') != std::string_view::npos || dot == 0 || dot == std::string_view::npos ||
      dot + 1 == key.size())
    return FailInvalid("linux.resources.unified: key \"" + std::string(key) +
                       "\" is not a cgroup file name like \"memory.high\"");
  return std::string(key.substr(0, dot));
}

std::string DeviceNumber(int64_t major, int64_t minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

std::string Num(int64_t v, std::string_view minus_one) {
  return v == -1 ? std::string(minus_one) : std::to_string(v);
}

}  // namespace moor::runtime::cgroups
