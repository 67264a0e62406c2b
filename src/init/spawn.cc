#include "init/spawn.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>

#include "init/policy.h"

namespace moor::init {

void ResetSignalDispositions() {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, nullptr);
  }
}

namespace {

[[noreturn]] void ExecInChild(char* const* argv) {
  setpgid(0, 0);
  // Signals are still blocked here, so taking the foreground from a
  // background group does not stop us with SIGTTOU.
  if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpid());
  ResetSignalDispositions();
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  execvp(argv[0], argv);
  int err = errno;
  dprintf(STDERR_FILENO, "moor-init: exec \"%s\": %s\n", argv[0], strerror(err));
  _exit(ExitCodeForExecErrno(err));
}

}  // namespace

Result<pid_t> SpawnApp(const std::vector<std::string>& argv) {
  if (argv.empty()) return FailInvalid("no program to run");
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return FailErrno("fork");
  if (pid == 0) ExecInChild(cargv.data());
  // Also set from this side so that a signal forwarded before the child runs
  // already finds the group. EACCES (child already exec'd) is harmless.
  setpgid(pid, pid);
  return pid;
}

}  // namespace moor::init
