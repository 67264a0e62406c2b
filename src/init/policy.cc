#include "init/policy.h"

#include <sys/wait.h>

#include <cerrno>

namespace moor::init {

sigset_t SignalsToBlock() {
  sigset_t set;
  sigfillset(&set);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGPIPE, SIGKILL, SIGSTOP}) sigdelset(&set, sig);
  return set;
}

int ExitCodeForWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;  // stopped/continued are not final; callers pass final statuses only
}

int ExitCodeForExecErrno(int err) { return (err == ENOENT || err == ENOTDIR) ? 127 : 126; }

pid_t ForwardTarget(pid_t app, bool group) { return group ? -app : app; }

Supervisor::Supervisor(pid_t app, bool group, std::optional<std::chrono::milliseconds> grace)
    : target_(ForwardTarget(app, group)), app_(app), grace_(grace) {}

Action Supervisor::OnSignal(int sig, Clock::time_point now) {
  if (sig == SIGCHLD) return {Action::Kind::kReap};
  if (sig == SIGTERM && grace_ && !kill_at_) kill_at_ = now + *grace_;
  if (sig == SIGHUP || sig == SIGUSR1 || sig == SIGUSR2) return {Action::Kind::kSignal, app_, sig};
  return {Action::Kind::kSignal, target_, sig};
}

std::optional<Supervisor::Clock::duration> Supervisor::WaitBudget(Clock::time_point now) const {
  if (!kill_at_) return std::nullopt;
  if (*kill_at_ <= now) return Clock::duration::zero();
  return *kill_at_ - now;
}

Action Supervisor::OnTimeout(Clock::time_point now) {
  if (!kill_at_ || now < *kill_at_) return {};
  kill_at_.reset();
  grace_.reset();  // at most one SIGKILL
  return {Action::Kind::kSignal, target_, SIGKILL};
}

}  // namespace moor::init
