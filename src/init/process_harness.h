// Test-only helpers for init_test: run the built moor-init binary and watch
// it from outside (pipes, /proc). Every wait polls with a deadline.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::init::testing {

using Clock = std::chrono::steady_clock;
// Generous: a test that hangs fails after this instead of blocking CI.
constexpr Clock::duration kDeadline = std::chrono::seconds(20);

struct InitProcess {
  pid_t pid = -1;
  UniqueFd out;  // stdout of moor-init and the app
  UniqueFd err;  // stderr of moor-init and the app
};

// Starts MOOR_INIT_BINARY with `args`; stdin is /dev/null. `setup` runs in the
// forked child just before exec (to set env, signal state, a terminal...).
inline InitProcess StartInit(const std::vector<std::string>& args, const std::function<void()>& setup = {}) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return {};
  std::vector<std::string> all = {MOOR_INIT_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (setup) setup();
    execv(argv[0], argv.data());
    _exit(99);
  }
  close(out[1]);
  close(err[1]);
  InitProcess p;
  p.pid = pid;
  p.out.Reset(out[0]);
  p.err.Reset(err[0]);
  return p;
}

template <class Pred>
bool PollUntil(Pred pred, Clock::duration timeout = kDeadline) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Wait status of `pid` once it exits; nullopt when it is still running at the deadline.
inline std::optional<int> WaitFor(pid_t pid, Clock::duration timeout = kDeadline) {
  int status = 0;
  bool done = PollUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) return std::nullopt;
  return status;
}

// Appends what `fd` yields to `acc` until every needle is in it; false at the deadline or EOF.
inline bool ReadUntil(int fd, std::string& acc, const std::vector<std::string>& needles,
                      Clock::duration timeout = kDeadline) {
  auto deadline = Clock::now() + timeout;
  auto all_found = [&] {
    for (auto& n : needles)
      if (acc.find(n) == std::string::npos) return false;
    return true;
  };
  while (!all_found()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return all_found();
    if (n > 0) acc.append(buf, static_cast<size_t>(n));
  }
  return true;
}

// Everything left in `fd` until EOF (or the deadline).
inline std::string ReadAll(int fd, Clock::duration timeout = kDeadline) {
  std::string acc;
  ReadUntil(fd, acc, {"\x01never-printed\x02"}, timeout);
  return acc;
}

struct ProcEntry {
  pid_t pid;
  char state;  // R, S, Z, ... from /proc/PID/stat
};

// Processes whose parent is `parent`, found by scanning /proc/*/stat.
inline std::vector<ProcEntry> ChildrenOf(pid_t parent) {
  std::vector<ProcEntry> out;
  DIR* dir = opendir("/proc");
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    auto pid = ParseInt(e->d_name);
    if (!pid) continue;
    auto stat = ReadFile("/proc/" + std::string(e->d_name) + "/stat");
    if (!stat) continue;  // exited meanwhile
    size_t close_paren = stat->rfind(')');
    if (close_paren == std::string::npos || close_paren + 4 > stat->size()) continue;
    auto fields = Split(std::string_view(*stat).substr(close_paren + 2), ' ');
    if (fields.size() < 2) continue;
    if (ParseInt(fields[1]) == parent) out.push_back({static_cast<pid_t>(*pid), fields[0][0]});
  }
  closedir(dir);
  return out;
}

}  // namespace moor::init::testing
