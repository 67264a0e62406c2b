#include "init/init.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "init/policy.h"
#include "init/spawn.h"

#ifndef MOOR_INIT_VERSION
#define MOOR_INIT_VERSION "unknown"
#endif

namespace moor::init {
namespace {

bool g_verbose = false;

__attribute__((format(printf, 1, 2))) void Debug(const char* fmt, ...) {
  if (!g_verbose) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  dprintf(STDERR_FILENO, "moor-init: %s\n", line);
}

const char* SigName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? abbrev : "?";
}

// Reaps every zombie child without blocking. Returns the app's wait status
// when the app was among them.
std::optional<int> ReapZombies(pid_t app) {
  std::optional<int> app_status;
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;  // 0: children left but none exited; -1/ECHILD: no children
    if (pid == app) {
      app_status = status;
      Debug("app (pid %d) ended: exit code %d", pid, ExitCodeForWaitStatus(status));
    } else {
      Debug("reaped pid %d", pid);
    }
  }
  return app_status;
}

void Send(pid_t app, const Action& action) {
  if (action.kind != Action::Kind::kSignal) return;
  Debug("sending SIG%s to %s %d", SigName(action.sig), action.target < 0 ? "process group" : "pid",
        action.target < 0 ? -action.target : action.target);
  if (kill(action.target, action.sig) == 0) return;
  // The app may have left its group (a job-control shell): reach it directly.
  if (errno == ESRCH && action.target < 0) {
    if (kill(app, action.sig) == 0 || errno == ESRCH) return;
  }
  Debug("kill(%d, SIG%s): %s", action.target, SigName(action.sig), strerror(errno));
}

timespec ToTimespec(Supervisor::Clock::duration d) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

int Run(const Options& opts) {
  g_verbose = opts.verbose;
  if (opts.argv.empty() || opts.argv[0].empty()) {
    dprintf(STDERR_FILENO, "moor-init: no program given: usage: moor-init [OPTIONS] [--] PROGRAM [ARGS...]\n");
    return 2;
  }
  const sigset_t blocked = SignalsToBlock();
  if (sigprocmask(SIG_SETMASK, &blocked, nullptr) != 0) {
    dprintf(STDERR_FILENO, "moor-init: block signals: %s\n", strerror(errno));
    return 1;
  }
  // SIGCHLD must not be inherited as SIG_IGN (children would be auto-reaped
  // and the app's status lost); SIGPIPE from our own stderr is ignored.
  ResetSignalDispositions();
  signal(SIGPIPE, SIG_IGN);

  if (getpid() != 1) {
    if (opts.subreaper) {
      if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        dprintf(STDERR_FILENO, "moor-init: become child subreaper: %s\n", strerror(errno));
        return 1;
      }
    } else {
      Debug("not PID 1 and no --subreaper: orphans of the app are not re-parented to moor-init");
    }
  }

  auto app = SpawnApp(opts.argv);
  if (!app) {
    dprintf(STDERR_FILENO, "moor-init: start \"%s\": %s\n", opts.argv[0].c_str(), app.error().message().c_str());
    return 1;
  }
  Debug("started app \"%s\" as pid %d", opts.argv[0].c_str(), *app);

  Supervisor supervisor(*app, opts.group, opts.grace);
  for (;;) {
    if (auto status = ReapZombies(*app)) return ExitCodeForWaitStatus(*status);
    auto budget = supervisor.WaitBudget(Supervisor::Clock::now());
    timespec ts{};
    if (budget) ts = ToTimespec(*budget);
    siginfo_t info;
    int sig = sigtimedwait(&blocked, &info, budget ? &ts : nullptr);
    if (sig < 0) {
      if (errno == EAGAIN) {
        Send(*app, supervisor.OnTimeout(Supervisor::Clock::now()));
      } else if (errno != EINTR) {
        dprintf(STDERR_FILENO, "moor-init: wait for signals: %s\n", strerror(errno));
        return 1;
      }
      continue;
    }
    Debug("received SIG%s", SigName(sig));
    Send(*app, supervisor.OnSignal(sig, Supervisor::Clock::now()));
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto parsed = ParseArgs(args);
  if (!parsed) {
    dprintf(STDERR_FILENO, "moor-init: %s\n", parsed.error().message().c_str());
    return 2;
  }
  switch (parsed->command) {
    case Command::kHelp:
      fwrite(UsageText().data(), 1, UsageText().size(), stdout);
      return 0;
    case Command::kVersion:
      printf("moor-init %s\n", MOOR_INIT_VERSION);
      return 0;
    case Command::kRun:
      break;
  }
  return Run(parsed->options);
}

}  // namespace moor::init
