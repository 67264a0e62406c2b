// Test-only helper: runs a function in a forked child (so a seccomp filter or
// a credential change never reaches the test runner) and reports how it ended.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "common/testing/child.h"
#include "runtime/seccomp/load.h"

namespace moor::runtime::seccomp::testing {

using moor::testing::ChildExit;
using moor::testing::RunInChild;
using moor::testing::Say;

// Syscalls a child needs to end, including the exit hooks of sanitizer
// runtimes (ASan's _exit interceptor uses sigaltstack, gettid, mmap). Strict
// test profiles allow them so the tests hold in sanitizer builds too.
inline std::vector<std::string> ExitSyscalls() {
  return {"exit_group", "exit", "sigaltstack", "gettid", "write", "mmap", "munmap", "madvise"};
}

// Exit code of RunFiltered's child when the filter could not be loaded.
constexpr int kSetupFailed = 254;

// Runs `probe` in a child after loading `prog` (unless null), with
// NO_NEW_PRIVS set first and core dumps off. The child's exit code is 0 when
// the probe returned >= 0, else the errno it failed with (kSetupFailed, with
// the reason in `out`, when the filter did not load).
inline ChildExit RunFiltered(const Program* prog, const std::function<long()>& probe) {
  return RunInChild([&](int out) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      Say(out, "PR_SET_NO_NEW_PRIVS failed");
      return kSetupFailed;
    }
    if (prog) {
      auto loaded = Load(*prog);
      if (!loaded) {
        Say(out, loaded.error().message());
        return kSetupFailed;
      }
    }
    errno = 0;
    long rc = probe();
    return rc < 0 ? errno : 0;
  });
}

}  // namespace moor::runtime::seccomp::testing
