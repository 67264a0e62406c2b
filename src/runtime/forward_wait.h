// Foreground waiting for `run` and `exec`: forwards the signals the runtime
// receives to the container process and returns its exit code.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "common/error.h"

namespace moor::runtime {

// Blocks the forwarded signals (and SIGCHLD) in the calling process and
// returns the previous mask. Call before creating the child so no signal is
// lost; the child restores an empty mask itself.
sigset_t BlockForwardedSignals();

// Waits for `pid` (a child of the caller), forwarding SIGINT, SIGTERM, SIGHUP,
// SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to it. Returns the exit code, or
// 128+N when it died of signal N. REQUIRES: BlockForwardedSignals() called.
Result<int> WaitForwardingSignals(pid_t pid);

}  // namespace moor::runtime
