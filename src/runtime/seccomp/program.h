// A compiled seccomp filter: classic BPF ready for seccomp(SECCOMP_SET_MODE_FILTER).
//
// Produced in the runtime's parent process by Compile() (compile.h), which is
// the only place libseccomp is used; loaded in the container's child by Load()
// (load.h) with one syscall, so the child never touches libseccomp or files.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace moor::runtime::seccomp {

struct Program {
  std::vector<sock_filter> filter;  // the BPF instructions, in order
  unsigned int flags = 0;           // SECCOMP_FILTER_FLAG_* bits for seccomp(2)
};

}  // namespace moor::runtime::seccomp
