// The probes behind CheckRunner, stoppable: CheckRunner passes its thread's
// stop token so Remove() ends a probe that waits on a hung peer at once.
// RunProbe(def, ops) in check_runner.h is this with a token never stopped.
#pragma once

#include <stop_token>

#include "discovery/check_runner.h"

namespace moor::discovery {

// Result of one probe; a stopped probe returns critical "canceled" (the
// runner discards it).
CheckResult RunProbe(const CheckDef& def, ContainerOps* ops, std::stop_token stop);

}  // namespace moor::discovery
