// CVE-2019-5736 defence: the runtime process that enters a container must not
// be backed by the host's moor-runtime file, or a container process could
// reopen /proc/<pid>/exe for writing and replace the host binary.
#pragma once

#include "common/error.h"

namespace moor::runtime {

// Returns when /proc/self/exe is already safe (a sealed memfd, or a file on a
// read-only mount). Otherwise copies the binary into a sealed memfd and
// re-executes it with the same argv/envp; returns only on failure.
Result<void> EnsureSealedSelf(char** argv, char** envp);

// True when /proc/self/exe cannot be written through (sealed or read-only).
bool SelfIsSealed();

}  // namespace moor::runtime
