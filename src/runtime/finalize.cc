#include "runtime/finalize.h"

#include <sys/prctl.h>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/process/capabilities.h"
#include "runtime/process/rlimits.h"
#include "runtime/process/user.h"
#include "runtime/seccomp/compile.h"
#include "runtime/seccomp/load.h"

namespace moor::runtime {

struct FinalizePlan {
  oci::User user;
  process::CapSets caps;
  int last_cap = 0;
  process::RlimitPlan rlimits;
  bool no_new_privileges = false;
  std::optional<seccomp::Program> seccomp;
};

void FinalizePlanDeleter::operator()(FinalizePlan* p) const { delete p; }

Result<FinalizePlanPtr> PrepareFinalize(const oci::Process& process, const oci::Seccomp* profile) {
  FinalizePlanPtr plan(new FinalizePlan);
  plan->user = process.user;
  plan->last_cap = TRY(process::ReadLastCap());
  if (process.capabilities) {
    plan->caps = TRY(process::ComputeCapSets(*process.capabilities));
    if (process::HasInheritable(plan->caps))
      log::Warn("process.capabilities.inheritable is not empty: setuid and file-capability programs in the "
                "container can regain these capabilities");
    if (uint64_t bad = process::UnraisableAmbient(plan->caps))
      log::Warn("process.capabilities.ambient: not raised (not both permitted and inheritable): " +
                Join(process::CapNames(bad), ","));
    process::CapSets clamped = process::ClampToKernel(plan->caps, plan->last_cap);
    if (clamped.bounding != plan->caps.bounding)
      log::Debug("capabilities unknown to this kernel ignored: " +
                 Join(process::CapNames(plan->caps.bounding & ~clamped.bounding), ","));
    plan->caps = clamped;
  }
  // No capabilities section: the process gets none (all sets stay zero), the
  // safe reading of an absent field; `exec` without --process copies the
  // container's own capabilities before it gets here.
  plan->rlimits = TRY(process::PlanRlimits(process.rlimits));
  plan->no_new_privileges = process.no_new_privileges;
  if (profile) plan->seccomp = TRY(seccomp::Compile(*profile));
  return plan;
}

Result<void> ApplyRlimits(const FinalizePlan& plan) { return process::ApplyRlimits(plan.rlimits); }

Result<void> ApplyIdentity(const FinalizePlan& plan) {
  // Without no_new_privileges the filter needs CAP_SYS_ADMIN to load: do it
  // while we still have it (the filter must then allow what follows).
  if (plan.seccomp && !plan.no_new_privileges) TRY_CTX(seccomp::Load(*plan.seccomp), "load seccomp filter");
  TRY(process::ApplyCredentials(plan.user, plan.caps, plan.last_cap));
  if (plan.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return FailErrno("set no_new_privs");
  return {};
}

Result<void> ApplyLateSeccomp(const FinalizePlan& plan) {
  if (plan.seccomp && plan.no_new_privileges) TRY_CTX(seccomp::Load(*plan.seccomp), "load seccomp filter");
  return {};
}

}  // namespace moor::runtime
