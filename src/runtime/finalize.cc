// TEMPORARY (replaced when process/ and seccomp/ land): no-op finalize.
#include "runtime/finalize.h"

namespace moor::runtime {
struct FinalizePlan {};
void FinalizePlanDeleter::operator()(FinalizePlan* p) const { delete p; }
Result<FinalizePlanPtr> PrepareFinalize(const oci::Process&, const oci::Seccomp*) {
  return FinalizePlanPtr(new FinalizePlan);
}
Result<void> ApplyRlimits(const FinalizePlan&) { return {}; }
Result<void> ApplyIdentity(const FinalizePlan&) { return {}; }
Result<void> ApplyLateSeccomp(const FinalizePlan&) { return {}; }
}  // namespace moor::runtime
