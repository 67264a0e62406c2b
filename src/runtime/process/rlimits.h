// Resource limits of the container process (process.rlimits): pure
// translation of names to RLIMIT_* numbers, and the setrlimit loop.
#pragma once

#include <sys/resource.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime::process {

struct RlimitSetting {
  int resource = 0;  // RLIMIT_NOFILE …
  rlimit limit{};    // soft = rlim_cur, hard = rlim_max
  std::string name;  // "RLIMIT_NOFILE", for error messages
};
using RlimitPlan = std::vector<RlimitSetting>;

// The RLIMIT_* number of a name, or -1 when unknown.
int RlimitFromName(std::string_view name);

// Pure. Errors name the entry: unknown type, soft above hard, or a type given
// twice (the runtime spec requires an error for duplicates).
//   process.rlimits[2].type: unknown rlimit "RLIMIT_FOO"
Result<RlimitPlan> PlanRlimits(const std::vector<oci::Rlimit>& rlimits,
                               const std::string& field = "process.rlimits");

// setrlimit for each entry, in order. Syscalls only.
// REQUIRES: CAP_SYS_RESOURCE effective when a hard limit is raised — apply
// before dropping capabilities or switching user.
Result<void> ApplyRlimits(const RlimitPlan& plan);

}  // namespace moor::runtime::process
