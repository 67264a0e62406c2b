// CVE-2019-5736 defence: the runtime process that enters a container must not
// be backed by the host's moor-runtime file, or a container process could
// reopen /proc/<pid>/exe for writing and replace the host binary.
#pragma once

#include <string>

#include "common/error.h"

namespace moor::runtime {

// Returns when /proc/self/exe is already safe (a sealed memfd, or a file on a
// read-only mount). Otherwise re-executes with the same argv/envp from a safe
// copy: a read-only bind-mounted copy of this exact binary kept in
// `cache_dir` (made on first use, replaced when the binary changes), or,
// when that cannot be made or cache_dir is empty, a sealed memfd copy.
// Returns only on failure.
Result<void> EnsureSealedSelf(char** argv, char** envp, const std::string& cache_dir);

// Where the read-only copy lives by default.
inline constexpr const char* kSelfCopyDir = "/run/moor-runtime-exe";

// True when /proc/self/exe cannot be written through (sealed or read-only).
bool SelfIsSealed();

}  // namespace moor::runtime
