// Test-only helpers: run a function in a forked child (so credential changes
// never reach the test runner) and read fields of /proc/self/status.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <string_view>

namespace moor::runtime::process::testing {

struct ChildExit {
  int code = -1;    // exit status when the child exited, else -1
  int signal = 0;   // terminating signal when it was killed, else 0
  std::string out;  // what the child wrote to its out_fd
};

// `body` runs in the child and returns its exit code; it may write text to
// out_fd (or dup2 it onto stdout before an exec). The child ends with _exit.
inline ChildExit RunInChild(const std::function<int(int out_fd)>& body) {
  ChildExit result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
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

inline void Say(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Copies /proc/self/status to fd.
inline bool SendStatus(int fd) {
  int in = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (in < 0) return false;
  char buf[4096];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    Say(fd, std::string_view(buf, static_cast<size_t>(n)));
  close(in);
  return true;
}

// The value of a "Name:\tvalue" line of a /proc/PID/status text, or "<missing>".
inline std::string StatusField(const std::string& status, std::string_view name) {
  std::string key = "\n" + std::string(name) + ":";
  size_t at = ("\n" + status).find(key);
  if (at == std::string::npos) return "<missing>";
  size_t begin = at + key.size() - 1;  // index in `status` (the added "\n" shifts by one)
  size_t end = status.find('\n', begin);
  std::string value =
      status.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  size_t first = value.find_first_not_of(" \t");
  size_t last = value.find_last_not_of(" \t");
  return first == std::string::npos ? "" : value.substr(first, last - first + 1);
}

}  // namespace moor::runtime::process::testing
