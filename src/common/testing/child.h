// Test-only: run a function in a forked child (so seccomp filters, credential
// changes and the like never reach the test runner) and collect how it ended
// and what it wrote. Header-only; used by unit tests of several modules.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <string_view>

namespace moor::testing {

struct ChildExit {
  int code = -1;    // exit status when the child exited, else -1
  int signal = 0;   // terminating signal when it was killed, else 0
  std::string out;  // what the child wrote to its out_fd (or why it could not start)
};

// `body` runs in the child and returns its exit code; it may write text to
// out_fd (or dup2 it onto stdout before an exec). The child ends with _exit
// (no atexit handlers, no gtest teardown).
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

// Writes a string to fd, ignoring errors (diagnostics from children).
inline void Say(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace moor::testing
