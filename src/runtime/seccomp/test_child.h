// Test-only helper: runs a function in a forked child (so a seccomp filter or
// a credential change never reaches the test runner) and reports how it ended.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "runtime/seccomp/load.h"

namespace moor::runtime::seccomp::testing {

struct ChildExit {
  int code = -1;    // exit status when the child exited, else -1
  int signal = 0;   // terminating signal when it was killed, else 0
  std::string out;  // what the child wrote to its out_fd
};

// `body` runs in the child and returns its exit code; it may write text to
// out_fd. The child ends with _exit (no atexit handlers, no gtest teardown).
inline ChildExit RunInChild(const std::function<int(int out_fd)>& body) {
  ChildExit result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.out = "pipe failed";
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    result.out = "fork failed";
    return result;
  }
  if (pid == 0) {
    close(fds[0]);
    _exit(body(fds[1]));
  }
  close(fds[1]);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

// Writes a string to fd, ignoring errors (used for diagnostics from children).
inline void Say(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

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
