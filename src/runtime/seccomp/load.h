// Loads a compiled Program into the calling process. Called in the container's
// child right before execve.
#pragma once

#include "common/error.h"
#include "runtime/seccomp/program.h"

namespace moor::runtime::seccomp {

// Installs `prog` with seccomp(SECCOMP_SET_MODE_FILTER, prog.flags, …) (or
// prctl(PR_SET_SECCOMP) on kernels without the seccomp syscall when no flag is
// set). Syscalls only: no allocation beyond error messages, no files, no
// libraries, so it is safe after pivot_root.
//
// REQUIRES (the caller's job, not done here): either PR_SET_NO_NEW_PRIVS is
// already set on the process, or the calling thread has CAP_SYS_ADMIN in its
// effective set — in that case load the filter before capabilities are dropped,
// and make sure the filter allows every syscall the runtime still makes after
// loading it (setresuid, capset, prctl, execve …).
// The filter applies to the calling thread only unless prog.flags has
// SECCOMP_FILTER_FLAG_TSYNC; moor-runtime's child is single-threaded.
Result<void> Load(const Program& prog);

}  // namespace moor::runtime::seccomp
