#include "runtime/forward_wait.h"

#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd.h"

namespace moor::runtime {
namespace {
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t WaitSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  sigaddset(&set, SIGCHLD);
  return set;
}
}  // namespace

sigset_t BlockForwardedSignals() {
  sigset_t set = WaitSet(), old;
  sigprocmask(SIG_BLOCK, &set, &old);
  return old;
}

Result<int> WaitForwardingSignals(pid_t pid) {
  sigset_t set = WaitSet();
  UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return FailErrno("signalfd");
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      continue;
    }
    if (r < 0 && errno != EINTR) return FailErrno("wait for container process");
    struct signalfd_siginfo si;
    ssize_t n = ::read(sfd.get(), &si, sizeof si);
    if (n != static_cast<ssize_t>(sizeof si)) {
      if (n < 0 && errno == EINTR) continue;
      return FailErrno("read signalfd");
    }
    if (si.ssi_signo != SIGCHLD) ::kill(pid, static_cast<int>(si.ssi_signo));
  }
}

}  // namespace moor::runtime
