// `moor monitor --config FILE`: detach from the daemon, then run the monitor.
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "common/file.h"
#include "common/strings.h"
#include "monitor/monitor.h"

namespace moor::monitor {
namespace {

void WriteAllFd(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Closes every inherited fd but stdio, ready_fd and the published ports: the
// monitor must not keep the daemon's sockets or pipes open for the
// container's lifetime (a reader of such a pipe would never see EOF).
void CloseInheritedFds(const MonitorConfig& cfg, int ready_fd) {
  std::vector<int> fds;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      auto fd = ParseInt(e->d_name);
      if (fd && *fd > 2 && *fd != ::dirfd(d)) fds.push_back(static_cast<int>(*fd));
    }
    ::closedir(d);
  }
  for (int fd : fds) {
    bool keep = fd == ready_fd;
    for (const auto& p : cfg.ports) keep = keep || fd == p.fd;
    if (!keep) ::close(fd);
  }
}

// The detached monitor (grandchild): reports "ok" or the setup error on ready_fd.
[[noreturn]] void RunDetached(MonitorConfig cfg, int ready_fd) {
  CloseInheritedFds(cfg, ready_fd);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // the container's orphans come to us, not to init
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    if (null_fd > 2) ::close(null_fd);
  }
  if (::chdir("/") != 0) {
    // Not fatal: every path in the config is absolute.
  }
  int rc;
  {
    Monitor m(std::move(cfg));
    if (auto r = m.Setup(); !r) {
      WriteAllFd(ready_fd, r.error().message());
      ::_exit(1);
    }
    WriteAllFd(ready_fd, "ok");
    ::close(ready_fd);
    rc = m.Run();
  }
  ::_exit(rc);
}

}  // namespace

int MonitorMain(const std::string& config_path) {
  auto text = ReadFile(config_path);
  auto cfg = text ? MonitorConfigFromJson(*text) : Result<MonitorConfig>(std::unexpected(text.error()));
  if (!cfg) {
    std::fprintf(stderr, "moor monitor: %s\n", cfg.error().message().c_str());
    return 1;
  }
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    std::perror("moor monitor: pipe");
    return 1;
  }
  std::fflush(nullptr);  // no duplicated stdio buffers in the children
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("moor monitor: fork");
    return 1;
  }
  if (child == 0) {
    ::close(ready[0]);
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    RunDetached(std::move(*cfg), ready[1]);
  }
  ::close(ready[1]);
  // Return only when the monitor's socket is listening (or it failed): the
  // daemon connects right after this process exits.
  std::string answer;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(ready[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(ready[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (answer == "ok") return 0;
  std::fprintf(stderr, "moor monitor: %s\n",
               answer.empty() ? "the monitor process ended before it was ready" : answer.c_str());
  return 1;
}

}  // namespace moor::monitor
