// CgroupManager: one container's cgroup, whatever the host's cgroup version.
//
// Implementations: CgroupV1Manager (v1 hierarchies), CgroupV2Manager (the
// unified hierarchy) and CgroupHybridManager (both, on systemd hybrid hosts).
// Pick one with OpenCgroupManager() or, from recorded paths, NewCgroupManager().
// Every manager works on the directories it is given, so tests run it on temp
// trees of plain files.
//
// Typical life: Validate → Create → Apply → AddProcess … Apply (update) …
// Freeze/Thaw … KillAll → Destroy. CreateWithResources() does the first three
// and cleans up on failure.
//
// Thread-safety: none; one manager is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/cgroups/layout.h"
#include "runtime/cgroups/paths.h"

namespace moor::runtime::cgroups {

enum class FreezerState { kThawed, kFreezing, kFrozen };
std::string_view FreezerStateName(FreezerState state);  // "THAWED" "FREEZING" "FROZEN"

// Usage numbers for metrics and `events --stats`. nullopt: the host has no
// such controller for this cgroup (or, for memory_limit, no limit is set).
struct CgroupStats {
  std::optional<uint64_t> memory_usage;  // bytes
  std::optional<uint64_t> memory_limit;  // bytes
  std::optional<uint64_t> cpu_usage_ns;  // total CPU time of the cgroup
  std::optional<uint64_t> pids_current;
};

struct ManagerOptions {
  std::chrono::milliseconds freeze_timeout{10'000};  // Freeze/Thaw: until the state is reached
  std::chrono::milliseconds kill_timeout{10'000};    // KillAll(SIGKILL): until the cgroup is empty
  std::chrono::milliseconds remove_timeout{5'000};   // Destroy: EBUSY retries while processes exit
  // Tests only: called for each directory Create() makes, outermost first,
  // standing in for the kernel that fills a new cgroup with control files.
  std::function<void(const std::string& dir)> on_directory_created;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // Checks resources against the host without touching any cgroup
  // (controllers present, values in range, page sizes known). Apply() checks
  // again, with what it reads from the live cgroup.
  virtual Result<void> Validate(const oci::Resources& r) const = 0;
  // Makes the directories (mkdir -p) in every hierarchy; v1 cpuset gets
  // cpus/mems copied from its parent, v2 parents get the controllers enabled.
  // On failure removes what it made. Idempotent.
  virtual Result<void> Create() = 0;
  // Writes every limit present in `r`; absent fields are left as they are (so
  // this is also `update`). REQUIRES: Create() succeeded.
  virtual Result<void> Apply(const oci::Resources& r) = 0;
  // Moves `pid` (a whole process) into the cgroup in every hierarchy.
  virtual Result<void> AddProcess(pid_t pid) = 0;
  // Freezes/thaws every process and waits (bounded by freeze_timeout) until
  // the kernel reports the state. A Freeze that times out thaws again.
  virtual Result<void> Freeze() = 0;
  virtual Result<void> Thaw() = 0;
  // kThawed when the host has no freezer.
  virtual Result<FreezerState> GetFreezerState() const = 0;
  // Every pid in the cgroup and its descendants, sorted.
  virtual Result<std::vector<pid_t>> Pids() const = 0;
  // Sends `signal` to every process. For SIGKILL, repeats until the cgroup is
  // empty or kill_timeout passes (then fails saying how many remain).
  virtual Result<void> KillAll(int signal) = 0;
  virtual Result<CgroupStats> Stats() const = 0;
  // Removes every directory (descendants first), then the ancestors Create()
  // made when nothing else uses them. A missing directory is success.
  virtual Result<void> Destroy() = 0;
  // False on cgroup v2, where device rules need an eBPF program this manager
  // does not load: Apply() then ignores linux.resources.devices, and the caller
  // should warn.
  virtual bool SupportsDeviceRules() const = 0;
  // The directories, including ancestors made by Create(): record these in
  // the state file and rebuild with NewCgroupManager().
  virtual CgroupPaths Paths() const = 0;
};

// Picks the implementation for the layout's mode and resolves cgroupsPath
// (empty: "/moor/<container_id>"; "slice:prefix:name" converted; relative:
// below the caller's own cgroups, read from /proc/self/cgroup). Creates
// nothing. Returns a manager owned by the caller.
Result<std::unique_ptr<CgroupManager>> OpenCgroupManager(const Layout& layout, std::string_view cgroups_path,
                                                         std::string_view container_id,
                                                         const ManagerOptions& options = {});

// A manager over directories resolved earlier (e.g. read back from a state
// file). REQUIRES: `paths` came from ResolvePaths()/Paths() for this layout.
std::unique_ptr<CgroupManager> NewCgroupManager(const Layout& layout, const CgroupPaths& paths,
                                                const ManagerOptions& options = {});

// Validate, Create, Apply; on any failure Destroy, so nothing is left behind.
Result<void> CreateWithResources(CgroupManager& manager, const oci::Resources& resources);

}  // namespace moor::runtime::cgroups
