#include "runtime/cgroups/v2_manager.h"

#include <signal.h>

#include <algorithm>

#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroupfs.h"

namespace moor::runtime::cgroups {

namespace {

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  for (std::string& w : Split(Trim(text), ' '))
    if (!w.empty()) out.push_back(std::move(w));
  return out;
}

}  // namespace

CgroupV2Manager::CgroupV2Manager(Layout layout, CgroupPaths paths, std::set<std::string> controllers,
                                 ManagerOptions options)
    : layout_(std::move(layout)),
      paths_(std::move(paths)),
      controllers_(std::move(controllers)),
      options_(std::move(options)) {
  paths_.v1.clear();
}

Result<V2State> CgroupV2Manager::ProbeState(bool live) const {
  V2State s;
  s.hugepage_sizes = layout_.hugepage_sizes;
  std::vector<std::string> available = layout_.unified_controllers;
  if (live) {
    std::optional<std::string> text = TRY(ReadOptional(File("cgroup.controllers")));
    if (text) available = Words(*text);
  }
  for (const std::string& c : available)
    if (controllers_.count(c)) s.controllers.insert(c);
  if (live) {
    s.has_swap_max = PathExists(File("memory.swap.max"));
    s.has_io_bfq_weight = PathExists(File("io.bfq.weight"));
    s.cpu_max = TRY(ReadOptional(File("cpu.max")));
    s.memory_current = TRY(ReadOptionalUint(File("memory.current")));
  }
  return s;
}

Result<void> CgroupV2Manager::Validate(const oci::Resources& r) const {
  V2State s = TRY(ProbeState(false));
  TRY(PlanV2Writes(r, s));
  return {};
}

// Top-down from the mount point to the leaf's parent, enable in each level's
// cgroup.subtree_control the managed controllers it offers. Like runc, a
// combined write that fails is retried one controller at a time, ignoring
// failures: Apply() then reports a controller the resources need and lack.
Result<void> CgroupV2Manager::EnableControllers() const {
  const std::string& leaf = paths_.unified;
  const std::string& mount = layout_.unified.mount_point;
  std::string level = StartsWith(leaf, mount + "/") ? mount : leaf.substr(0, leaf.rfind('/'));
  std::vector<std::string> below;
  for (std::string& c : Split(leaf.substr(level.size()), '/'))
    if (!c.empty()) below.push_back(std::move(c));
  for (size_t i = 0; i < below.size(); ++i) {
    std::optional<std::string> offered = TRY(ReadOptional(level + "/cgroup.controllers"));
    std::optional<std::string> enabled = TRY(ReadOptional(level + "/cgroup.subtree_control"));
    std::vector<std::string> on = Words(enabled.value_or(""));
    std::vector<std::string> add;
    for (const std::string& c : Words(offered.value_or("")))
      if (controllers_.count(c) && std::find(on.begin(), on.end(), c) == on.end()) add.push_back("+" + c);
    std::string file = level + "/cgroup.subtree_control";
    if (!add.empty() && !WriteExisting(file, Join(add, " ")))
      for (const std::string& one : add) (void)WriteExisting(file, one);
    level += "/" + below[i];
  }
  return {};
}

Result<void> CgroupV2Manager::Create() {
  return CreateRetrying(
      [&]() -> Result<void> {
        TRY(MakeDirsRecorded(paths_.unified, paths_.created_ancestors, options_.on_directory_created));
        return EnableControllers();
      },
      [&] { (void)Destroy(); });
}

Result<void> CgroupV2Manager::Apply(const oci::Resources& r) {
  V2State s = TRY(ProbeState(true));
  std::vector<CgroupWrite> writes = TRY(PlanV2Writes(r, s));
  return ExecuteWrites(writes, [&](const CgroupWrite&) -> Result<std::string> { return paths_.unified; });
}

Result<void> CgroupV2Manager::AddProcess(pid_t pid) {
  TRY_CTX(WriteExisting(File("cgroup.procs"), std::to_string(pid)),
          "add process " + std::to_string(pid) + " to cgroup " + paths_.unified);
  return {};
}

Result<void> CgroupV2Manager::SetFrozen(bool frozen) {
  if (!PathExists(File("cgroup.freeze")))
    return FailInvalid("cgroup " + paths_.unified +
                       " has no cgroup.freeze (kernel before 5.2?), so the container cannot be paused or resumed");
  TRY(WriteExisting(File("cgroup.freeze"), frozen ? "1" : "0"));
  auto deadline = Clock::now() + options_.freeze_timeout;
  for (int step = 0;;) {
    std::optional<uint64_t> state = TRY(ReadKeyedUint(File("cgroup.events"), "frozen"));
    if (state && *state == (frozen ? 1u : 0u)) return {};
    if (Clock::now() >= deadline) {
      if (frozen) (void)WriteExisting(File("cgroup.freeze"), "0");
      return Fail(Error(ETIMEDOUT, "cgroup " + paths_.unified + " did not become " +
                                       (frozen ? "frozen" : "thawed") + " within " +
                                       std::to_string(options_.freeze_timeout.count()) +
                                       " ms; a process may be stuck in the kernel"));
    }
    Backoff(step);
  }
}

Result<void> CgroupV2Manager::Freeze() { return SetFrozen(true); }
Result<void> CgroupV2Manager::Thaw() { return SetFrozen(false); }

Result<FreezerState> CgroupV2Manager::GetFreezerState() const {
  std::optional<uint64_t> requested = TRY(ReadOptionalUint(File("cgroup.freeze")));
  if (!requested) return FreezerState::kThawed;
  std::optional<uint64_t> frozen = TRY(ReadKeyedUint(File("cgroup.events"), "frozen"));
  if (frozen && *frozen == 1) return FreezerState::kFrozen;
  return *requested == 1 ? FreezerState::kFreezing : FreezerState::kThawed;
}

Result<std::vector<pid_t>> CgroupV2Manager::Pids() const { return ReadPidsRecursive(paths_.unified); }

Result<void> CgroupV2Manager::KillAll(int signal) {
  auto deadline = Clock::now() + options_.kill_timeout;
  if (signal == SIGKILL && PathExists(File("cgroup.kill"))) {
    TRY_CTX(WriteExisting(File("cgroup.kill"), "1"), "kill processes of cgroup " + paths_.unified);
  } else {
    bool frozen = PathExists(File("cgroup.freeze")) && SetFrozen(true).has_value();
    auto pids = Pids();
    if (pids) SignalPids(*pids, signal);
    if (frozen) TRY(SetFrozen(false));
    if (!pids) return Fail(std::move(pids.error()));
    if (signal != SIGKILL) return {};
  }
  for (int step = 0;;) {
    std::vector<pid_t> now = TRY(Pids());
    std::vector<pid_t> alive = SignalPids(now, SIGKILL);
    if (alive.empty()) return {};
    if (Clock::now() >= deadline)
      return Fail(Error(EBUSY, std::to_string(alive.size()) + " processes of cgroup " + paths_.unified +
                                   " survived SIGKILL for " + std::to_string(options_.kill_timeout.count()) + " ms"));
    Backoff(step);
  }
}

Result<CgroupStats> CgroupV2Manager::Stats() const {
  CgroupStats st;
  st.memory_usage = TRY(ReadOptionalUint(File("memory.current")));
  st.memory_limit = TRY(ReadOptionalUint(File("memory.max")));  // "max" reads as nullopt
  std::optional<uint64_t> usec = TRY(ReadKeyedUint(File("cpu.stat"), "usage_usec"));
  if (usec) st.cpu_usage_ns = *usec * 1000;
  st.pids_current = TRY(ReadOptionalUint(File("pids.current")));
  return st;
}

Result<void> CgroupV2Manager::Destroy() {
  Result<void> result = RemoveCgroupTree(paths_.unified, Clock::now() + options_.remove_timeout);
  for (auto it = paths_.created_ancestors.rbegin(); it != paths_.created_ancestors.rend(); ++it) {
    auto r = RemoveIfUnused(*it);
    if (!r && result) result = std::move(r);
  }
  return result;
}

}  // namespace moor::runtime::cgroups
