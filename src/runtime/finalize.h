// The last steps before execve: rlimits, user, capabilities, no_new_privs,
// seccomp. Prepared in the parent (parsing, seccomp compilation, reading
// /proc/sys/kernel/cap_last_cap), applied in the child with syscalls only.
#pragma once

#include <sys/resource.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime {

struct FinalizePlan;  // opaque: holds compiled seccomp, cap masks, rlimits

struct FinalizePlanDeleter {
  void operator()(FinalizePlan* p) const;
};
using FinalizePlanPtr = std::unique_ptr<FinalizePlan, FinalizePlanDeleter>;

// Parent side. `seccomp` may be null (no filter).
Result<FinalizePlanPtr> PrepareFinalize(const oci::Process& process, const oci::Seccomp* seccomp);

// Child side, in this order:
//   ApplyRlimitsAndOom   (still privileged: may raise hard limits)
//   ApplyIdentity        (seccomp first when !noNewPrivileges, then user + caps)
//   ApplyLateSeccomp     (right before execve when noNewPrivileges)
Result<void> ApplyRlimits(const FinalizePlan& plan);
Result<void> ApplyIdentity(const FinalizePlan& plan);
Result<void> ApplyLateSeccomp(const FinalizePlan& plan);

}  // namespace moor::runtime
