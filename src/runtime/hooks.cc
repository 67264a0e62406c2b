#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fd.h"

namespace moor::runtime {
namespace {

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Result<void> RunHook(const oci::Hook& hook, const std::string& state_json, std::string_view phase) {
  std::string what = std::string(phase) + " hook " + hook.path;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return FailErrno(what + ": pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return FailErrno(what + ": fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // `run` blocks the signals it forwards
    ::dup2(rd.get(), 0);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  rd.Reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  // The hook may not read its stdin; a full pipe or EPIPE is not its failure.
  ::signal(SIGPIPE, SIG_IGN);
  (void)!::write(wr.get(), state_json.data(), state_json.size());
  wr.Reset();

  int64_t deadline = hook.timeout ? NowMs() + int64_t{*hook.timeout} * 1000 : -1;
  if (pidfd && deadline >= 0) {
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    for (;;) {
      int64_t left = deadline - NowMs();
      if (left <= 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return Fail(Error(ETIMEDOUT, what + ": timed out after " + std::to_string(*hook.timeout) + "s"));
      }
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r > 0) break;
      if (r < 0 && errno != EINTR) break;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return FailErrno(what + ": wait");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status))
    return Fail(Error(ECANCELED, what + ": exit status " + std::to_string(WEXITSTATUS(status)) +
                                     (WEXITSTATUS(status) == 127 ? " (could not be executed?)" : "")));
  return Fail(Error(ECANCELED, what + ": killed by signal " + std::to_string(WTERMSIG(status))));
}

}  // namespace

Result<void> RunHooks(const std::vector<oci::Hook>& hooks, const std::string& state_json, std::string_view phase) {
  for (const auto& h : hooks) TRY(RunHook(h, state_json, phase));
  return {};
}

}  // namespace moor::runtime
