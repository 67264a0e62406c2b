// Cgroup layout of the host: which controllers live on cgroup v1 hierarchies,
// where the unified (v2) hierarchy is mounted and what it offers.
//
// Parsing is pure (mountinfo text in, Layout out) so every host shape is
// unit-tested; ReadLayout() reads the real /proc/self/mountinfo.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor::runtime::cgroups {

enum class Mode {
  kV1,      // only v1 hierarchies (named ones such as name=systemd included)
  kHybrid,  // v1 controllers plus a cgroup2 mount (systemd's /sys/fs/cgroup/unified)
  kV2,      // cgroup2 only (v1 named hierarchies, if any, are ignored)
};

std::string_view ModeName(Mode mode);

// One v1 hierarchy mount. Comounted controllers ("cpu,cpuacct") share one.
struct V1Mount {
  std::string mount_point;  // "/sys/fs/cgroup/cpu,cpuacct"
  std::string root;         // mountinfo field 4: the hierarchy path seen at mount_point ("/" normally)
};

struct Layout {
  Mode mode = Mode::kV1;
  // Controller -> its mount. Keys are kernel names: "cpu", "cpuacct", "memory",
  // … and named hierarchies as "name=systemd". Empty in kV2 mode.
  std::map<std::string, V1Mount> v1;
  // The cgroup2 mount; empty mount_point when there is none.
  V1Mount unified;
  // Controllers listed in <unified mount>/cgroup.controllers ("hugetlb" on a
  // systemd hybrid host whose other controllers are on v1).
  std::vector<std::string> unified_controllers;
  // Huge page sizes the kernel supports, named as the hugetlb files are
  // ("2MB", "1GB"); from /sys/kernel/mm/hugepages.
  std::vector<std::string> hugepage_sizes;

  bool HasV1(std::string_view controller) const { return v1.count(std::string(controller)) != 0; }
  bool HasUnified() const { return !unified.mount_point.empty(); }
  bool HasUnifiedController(std::string_view controller) const;
};

// What a mountinfo text says about cgroup mounts (no file reads).
struct CgroupMounts {
  std::map<std::string, V1Mount> v1;
  V1Mount unified;  // empty mount_point: none
};

// Parses /proc/<pid>/mountinfo text. Only the known v1 controller names and
// "name=..." options count as controllers (not rw, xattr, nsdelegate, …). When a
// hierarchy is mounted more than once, the first mount wins. Mount points are
// unescaped (\040 → space). Errors on a malformed cgroup line only.
Result<CgroupMounts> ParseMountinfo(std::string_view mountinfo);

// Builds a Layout from parsed mounts, the text of the unified mount's
// cgroup.controllers (ignored when there is no unified mount) and the huge page
// sizes. Fails when no cgroup filesystem is mounted at all.
Result<Layout> MakeLayout(CgroupMounts mounts, std::string_view unified_controllers,
                          std::vector<std::string> hugepage_sizes);

// "hugepages-2048kB" directory names → "2MB"; unknown names are skipped.
// Sorted by size, smallest first.
std::vector<std::string> HugepageSizesFromDirNames(const std::vector<std::string>& names);

// Reads /proc/self/mountinfo, the unified cgroup.controllers and
// /sys/kernel/mm/hugepages.
Result<Layout> ReadLayout();

}  // namespace moor::runtime::cgroups
