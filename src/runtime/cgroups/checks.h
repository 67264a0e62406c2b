// Checks and helpers shared by the v1 and v2 planners and the hybrid split.
// Pure. Error messages name the linux.resources field and say what to do.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime::cgroups {

// A controller the resources need and the field that needs it.
struct ControllerUse {
  std::string controller;  // v1 names: "memory" "cpu" "cpuset" "pids" "blkio" "hugetlb" "devices"
  std::string field;       // "linux.resources.memory"
};

// Controllers the resources use, by their v1 names (the v2 name of "blkio" is
// "io"; "devices" has no v2 controller). Only fields a planner writes count.
std::vector<ControllerUse> ControllersUsed(const oci::Resources& r);

// v1 controller name → v2 name ("blkio" → "io"; others unchanged).
std::string V2ControllerName(std::string_view v1_name);

// The error for a used controller the host lacks:
//   cgroup controller "hugetlb" is not available on this host; remove linux.resources.hugepageLimits
Error MissingController(std::string_view controller, std::string_view field);

// Fails for the first used controller not in `available` (v1 or v2 names per
// `v2`). `unified` keys are not checked here.
Result<void> CheckControllers(const oci::Resources& r, const std::set<std::string>& available, bool v2);

// cpu.shares must be 0 (unset) or in [2, 262144].
Result<void> CheckShares(const oci::CpuResources& cpu);
// blkio weights must be 0 (unset) or in [10, 1000].
Result<void> CheckBlkioWeights(const oci::BlockIoResources& b);
// Every page size must be one the host supports.
Result<void> CheckHugepageSizes(const std::vector<oci::HugepageLimit>& limits, const std::vector<std::string>& sizes);
// Memory values: only -1 may be negative; swap (memory+swap) ≥ limit when both
// are limited; swap cannot be limited while the limit is unlimited.
Result<void> CheckMemory(const oci::MemoryResources& m);

// A v1 device cgroup rule as the kernel reads it: "c 1:3 rwm", "a *:* rwm".
Result<std::string> DeviceRuleLine(const oci::DeviceCgroupRule& rule);

// "io.max" → "io"; "hugetlb.2MB.max" → "hugetlb". Fails on keys that are not
// a plain file name of the form <controller>.<name>.
Result<std::string> UnifiedKeyController(std::string_view key);

// "maj:min".
std::string DeviceNumber(int64_t major, int64_t minor);
// Decimal, with -1 spelled `minus_one` ("-1" on v1, "max" on v2).
std::string Num(int64_t v, std::string_view minus_one);

}  // namespace moor::runtime::cgroups
