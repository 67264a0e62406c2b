#include "runtime/cgroups/v1_manager.h"

#include <signal.h>

#include <algorithm>
#include <array>

#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroupfs.h"

namespace moor::runtime::cgroups {

namespace {

// memory.limit_in_bytes of an unlimited cgroup is PAGE_COUNTER_MAX pages,
// just under 2^63; anything this large means "no limit".
constexpr uint64_t kUnlimitedV1 = uint64_t{1} << 62;

std::string PidList(const std::vector<pid_t>& pids) {
  std::vector<std::string> s;
  for (size_t i = 0; i < pids.size() && i < 10; ++i) s.push_back(std::to_string(pids[i]));
  return Join(s, " ") + (pids.size() > 10 ? " …" : "");
}

}  // namespace

CgroupV1Manager::CgroupV1Manager(Layout layout, CgroupPaths paths, ManagerOptions options)
    : layout_(std::move(layout)), paths_(std::move(paths)), options_(std::move(options)) {
  paths_.unified.clear();
}

Result<V1State> CgroupV1Manager::ProbeState(bool live) const {
  V1State s;
  for (const auto& [controller, dir] : paths_.v1)
    if (!StartsWith(controller, "name=")) s.controllers.insert(controller);
  s.hugepage_sizes = layout_.hugepage_sizes;
  if (Has("memory")) {
    auto mount = layout_.v1.find("memory");
    std::string dir = live || mount == layout_.v1.end() ? Dir("memory") : mount->second.mount_point;
    s.has_memsw = PathExists(dir + "/memory.memsw.limit_in_bytes");
    if (live) s.memory_limit = TRY(ReadOptionalUint(dir + "/memory.limit_in_bytes"));
  }
  if (live && Has("blkio")) {
    if (!PathExists(Dir("blkio") + "/blkio.weight") && PathExists(Dir("blkio") + "/blkio.bfq.weight"))
      s.blkio_weight_prefix = "blkio.bfq.";
  }
  return s;
}

Result<void> CgroupV1Manager::Validate(const oci::Resources& r) const {
  V1State s = TRY(ProbeState(false));
  TRY(PlanV1Writes(r, s));
  return {};
}

// A new cpuset cgroup has empty cpus and mems and refuses processes until
// they are set: copy them down from the parent at every level below the mount.
Result<void> CgroupV1Manager::FillCpuset() const {
  if (!Has("cpuset")) return {};
  const std::string& leaf = Dir("cpuset");
  auto mount = layout_.v1.find("cpuset");
  std::string parent = leaf.substr(0, leaf.rfind('/'));
  if (mount != layout_.v1.end() && StartsWith(leaf, mount->second.mount_point + "/")) parent = mount->second.mount_point;
  std::string rest = leaf.substr(parent.size());
  for (const std::string& component : Split(rest, '/')) {
    if (component.empty()) continue;
    std::string dir = parent + "/" + component;
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
      std::string mine = TRY(ReadFile(dir + "/" + file));
      if (!Trim(mine).empty()) continue;
      std::string theirs = TRY(ReadFile(parent + "/" + file));
      TRY_CTX(WriteExisting(dir + "/" + file, Trim(theirs)), std::string("copy ") + file + " from " + parent);
    }
    parent = dir;
  }
  return {};
}

Result<void> CgroupV1Manager::Create() {
  return CreateRetrying(
      [&]() -> Result<void> {
        for (const std::string& dir : paths_.V1Dirs())
          TRY(MakeDirsRecorded(dir, paths_.created_ancestors, options_.on_directory_created));
        return FillCpuset();
      },
      [&] { (void)Destroy(); });
}

Result<void> CgroupV1Manager::Apply(const oci::Resources& r) {
  V1State s = TRY(ProbeState(true));
  std::vector<CgroupWrite> writes = TRY(PlanV1Writes(r, s));
  return ExecuteWrites(writes, [&](const CgroupWrite& w) -> Result<std::string> {
    auto it = paths_.v1.find(w.controller);
    if (it == paths_.v1.end()) return FailInvalid("cgroup controller \"" + w.controller + "\" is not available");
    return it->second;
  });
}

Result<void> CgroupV1Manager::AddProcess(pid_t pid) {
  for (const std::string& dir : paths_.V1Dirs())
    TRY_CTX(WriteExisting(dir + "/cgroup.procs", std::to_string(pid)),
            "add process " + std::to_string(pid) + " to cgroup " + dir);
  return {};
}

Result<void> CgroupV1Manager::SetFreezer(std::string_view target) {
  if (!Has("freezer"))
    return FailInvalid("the freezer cgroup controller is not available on this host, so the container cannot be "
                       "paused or resumed");
  std::string path = Dir("freezer") + "/freezer.state";
  auto deadline = Clock::now() + options_.freeze_timeout;
  for (int step = 0;;) {
    // Writing again each round makes the kernel retry tasks that were busy.
    TRY(WriteExisting(path, target));
    std::string state = TRY(ReadFile(path));
    if (Trim(state) == target) return {};
    if (Clock::now() >= deadline) {
      if (target == "FROZEN") (void)WriteExisting(path, "THAWED");
      return Fail(Error(ETIMEDOUT, "cgroup " + Dir("freezer") + " did not become " + std::string(target) +
                                       " within " + std::to_string(options_.freeze_timeout.count()) +
                                       " ms (state " + std::string(Trim(state)) +
                                       "); a process may be stuck in the kernel"));
    }
    Backoff(step);
  }
}

Result<void> CgroupV1Manager::Freeze() { return SetFreezer("FROZEN"); }
Result<void> CgroupV1Manager::Thaw() { return SetFreezer("THAWED"); }

Result<FreezerState> CgroupV1Manager::GetFreezerState() const {
  if (!Has("freezer")) return FreezerState::kThawed;
  std::string state = TRY(ReadFile(Dir("freezer") + "/freezer.state"));
  std::string_view s = Trim(state);
  if (s == "THAWED") return FreezerState::kThawed;
  if (s == "FREEZING") return FreezerState::kFreezing;
  if (s == "FROZEN") return FreezerState::kFrozen;
  return FailInvalid("cgroup " + Dir("freezer") + ": unexpected freezer.state \"" + std::string(s) + "\"");
}

Result<std::vector<pid_t>> CgroupV1Manager::Pids() const {
  static constexpr std::array<const char*, 8> kOrder = {"freezer", "pids",    "memory", "cpu",
                                                         "cpuacct", "devices", "blkio",  "cpuset"};
  for (const char* c : kOrder)
    if (Has(c)) return ReadPidsRecursive(Dir(c));
  if (paths_.v1.empty()) return std::vector<pid_t>();
  return ReadPidsRecursive(paths_.v1.begin()->second);
}

Result<void> CgroupV1Manager::KillAll(int signal) {
  auto deadline = Clock::now() + options_.kill_timeout;
  // Frozen, no process can fork a child that the signal would miss.
  bool frozen = Has("freezer") && Freeze().has_value();
  auto pids = Pids();
  if (pids) SignalPids(*pids, signal);
  if (frozen) TRY(Thaw());
  if (!pids) return Fail(std::move(pids.error()));
  if (signal != SIGKILL) return {};
  for (int step = 0;;) {
    std::vector<pid_t> now = TRY(Pids());
    std::vector<pid_t> alive = SignalPids(now, SIGKILL);
    if (alive.empty()) return {};
    if (Clock::now() >= deadline)
      return Fail(Error(EBUSY, std::to_string(alive.size()) + " processes of the cgroup survived SIGKILL for " +
                                   std::to_string(options_.kill_timeout.count()) + " ms: " + PidList(alive)));
    Backoff(step);
  }
}

Result<CgroupStats> CgroupV1Manager::Stats() const {
  CgroupStats st;
  if (Has("memory")) {
    st.memory_usage = TRY(ReadOptionalUint(Dir("memory") + "/memory.usage_in_bytes"));
    st.memory_limit = TRY(ReadOptionalUint(Dir("memory") + "/memory.limit_in_bytes"));
    if (st.memory_limit && *st.memory_limit >= kUnlimitedV1) st.memory_limit.reset();
  }
  if (Has("cpuacct")) st.cpu_usage_ns = TRY(ReadOptionalUint(Dir("cpuacct") + "/cpuacct.usage"));
  if (Has("pids")) st.pids_current = TRY(ReadOptionalUint(Dir("pids") + "/pids.current"));
  return st;
}

Result<void> CgroupV1Manager::Destroy() {
  auto deadline = Clock::now() + options_.remove_timeout;
  Result<void> result;
  for (const std::string& dir : paths_.V1Dirs()) {
    auto r = RemoveCgroupTree(dir, deadline);
    if (!r && result) result = std::move(r);
  }
  for (auto it = paths_.created_ancestors.rbegin(); it != paths_.created_ancestors.rend(); ++it) {
    auto r = RemoveIfUnused(*it);
    if (!r && result) result = std::move(r);
  }
  return result;
}

}  // namespace moor::runtime::cgroups
