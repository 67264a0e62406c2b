// From OCI linux.cgroupsPath to one directory per cgroup hierarchy.
//
//   ContainerCgroupPath: cgroupsPath (or its systemd "slice:prefix:name" form,
//                        or nothing) → a clean path inside every hierarchy.
//   ResolvePaths:        that path + Layout + the caller's own cgroups →
//                        absolute directories (CgroupPaths).
// Everything here is pure except ReadProcCgroup.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/cgroups/layout.h"

namespace moor::runtime::cgroups {

// The cgroups of one process, from /proc/<pid>/cgroup.
struct ProcCgroups {
  std::map<std::string, std::string> v1;  // controller ("memory", "name=systemd") → path
  std::optional<std::string> unified;     // the "0::/path" line
};

// Parses /proc/<pid>/cgroup text ("4:memory:/a", "2:cpu,cpuacct:/b", "0::/c").
Result<ProcCgroups> ParseProcCgroup(std::string_view text);
// Reads /proc/<pid>/cgroup; pid 0 means the calling process (/proc/self).
Result<ProcCgroups> ReadProcCgroup(pid_t pid = 0);

// Normalises a cgroup path: collapses "//" and "." and keeps a leading '/'.
// Rejects ".." components and paths that name a hierarchy root ("", "/", ".").
Result<std::string> CleanCgroupPath(std::string_view path);

// True for the systemd driver's "slice:prefix:name" form: no leading '/' and
// exactly two ':'.
bool IsSystemdCgroupPath(std::string_view path);

// "system.slice:docker:abc" → "/system.slice/docker-abc.scope";
// "user-1000.slice::x" → "/user.slice/user-1000.slice/x.scope";
// a name ending in ".slice" names a slice itself: "::a-b.slice" → "/a.slice/a-b.slice".
// An empty slice means "system.slice". Used so a systemd-style path given by
// Docker (--systemd-cgroup) is managed through cgroupfs at the same location.
Result<std::string> SystemdToCgroupfsPath(std::string_view path);

// The container's path inside each hierarchy: cgroupsPath cleaned (absolute
// "/a/b" or relative "a/b"), the systemd form converted, or "/moor/<id>" when
// cgroupsPath is empty. Errors name linux.cgroupsPath.
Result<std::string> ContainerCgroupPath(std::string_view cgroups_path, std::string_view container_id);

// The directories of one container cgroup. This is what the runtime records in
// its state file: NewCgroupManager(layout, paths) rebuilds the same manager in
// another process (relative cgroupsPaths depend on the caller's cgroup, so
// recording beats recomputing).
struct CgroupPaths {
  // v1 controller → directory. Comounted controllers map to the same
  // directory. Empty in kV2 mode.
  std::map<std::string, std::string> v1;
  // The directory on the unified mount; empty when not used (kV1 mode).
  std::string unified;
  // Ancestor directories Create() had to make (outermost first). Destroy()
  // removes them too when they are empty.
  std::vector<std::string> created_ancestors;

  // Distinct v1 directories, sorted.
  std::vector<std::string> V1Dirs() const;
  // Every directory: V1Dirs() then unified.
  std::vector<std::string> AllDirs() const;
};

// Resolves a ContainerCgroupPath result against every hierarchy the mode uses
// (v1: all v1 mounts; hybrid: all v1 mounts and the unified mount; v2: the
// unified mount). An absolute path is taken from each hierarchy's mount point;
// a relative one from `self`'s cgroup in that hierarchy.
Result<CgroupPaths> ResolvePaths(const Layout& layout, std::string_view container_path, const ProcCgroups& self);

}  // namespace moor::runtime::cgroups
