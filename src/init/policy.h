// Pure decisions of moor-init (no system calls): which signals it blocks,
// what it does with each signal it receives, and which exit code it returns.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>

namespace moor::init {

// Every signal except SIGKILL/SIGSTOP (cannot be blocked) and the synchronous
// fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), which must
// keep their default action so a fault in init is never silently swallowed;
// and SIGPIPE, which init ignores: a blocked SIGPIPE raised by init's own write
// to a closed stderr would otherwise be forwarded to the app and kill it.
sigset_t SignalsToBlock();

// Exit code of init for the app's wait status: its exit code, or 128+N when
// it died by signal N.
int ExitCodeForWaitStatus(int status);

// Exit code of the child when exec fails: 127 when the program is not there,
// 126 when it is there but cannot be run (permission denied, bad format, ...).
int ExitCodeForExecErrno(int err);

// kill() target for the app: -pid (its process group) or pid (the app only).
pid_t ForwardTarget(pid_t app, bool group);

struct Action {
  enum class Kind { kNothing, kReap, kSignal };
  Kind kind = Kind::kNothing;
  pid_t target = 0;  // kSignal: kill() target
  int sig = 0;       // kSignal: signal to send
  friend bool operator==(const Action&, const Action&) = default;
};

// Decides what init does with each signal it receives and when the grace
// period runs out. Not thread-safe; one per app.
class Supervisor {
 public:
  using Clock = std::chrono::steady_clock;

  Supervisor(pid_t app, bool group, std::optional<std::chrono::milliseconds> grace);

  // SIGCHLD -> reap; any other signal -> forward it to the app (its group
  // when group forwarding is on). SIGHUP, SIGUSR1 and SIGUSR2 go to the app's
  // process alone even then: they ask a master process to reload or reopen
  // (php-fpm, nginx), and its workers, which reset them to the default
  // action, would die mid-request. The first SIGTERM starts the grace period
  // when one is configured.
  Action OnSignal(int sig, Clock::time_point now);
  // How long init may wait for a signal before calling OnTimeout; nullopt: forever.
  std::optional<Clock::duration> WaitBudget(Clock::time_point now) const;
  // SIGKILL to the app once the grace period is over (once); else nothing.
  Action OnTimeout(Clock::time_point now);

 private:
  pid_t target_;
  pid_t app_;
  std::optional<std::chrono::milliseconds> grace_;
  std::optional<Clock::time_point> kill_at_;
};

}  // namespace moor::init
