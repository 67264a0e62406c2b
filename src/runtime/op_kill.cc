#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/strings.h"
#include "runtime/container_cgroup.h"
#include "runtime/ops.h"

namespace moor::runtime {

Result<int> ParseSignal(const std::string& s) {
  if (auto n = ParseInt(s)) {
    if (*n <= 0 || *n >= NSIG) return FailInvalid("invalid signal \"" + s + "\"");
    return static_cast<int>(*n);
  }
  std::string name = s;
  for (auto& c : name) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (StartsWith(name, "SIG")) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  if (StartsWith(name, "RTMIN+")) {
    if (auto n = ParseInt(name.substr(6)); n && SIGRTMIN + *n <= SIGRTMAX) return SIGRTMIN + static_cast<int>(*n);
  }
  return FailInvalid("unknown signal \"" + s + "\" (use a name like TERM or a number)");
}

Result<void> KillContainer(const std::string& root, const std::string& id, int signal, bool all) {
  TRY(ValidateContainerId(id));
  ContainerDir dir{root, id};
  ContainerState state = TRY(LoadState(dir));
  Status st = CurrentStatus(dir, state);
  if (st == Status::kStopped && !all) return Fail(Error(ESRCH, "container \"" + id + "\" is not running"));
  if (all) {
    auto cg = TRY(ContainerCgroup::FromState(state));
    TRY(cg->manager().KillAll(signal));
    return {};
  }
  // A pidfd pins the process we checked: no signal to a recycled pid.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, state.pid, 0)));
  if (!pidfd || !ProcessAlive(state.pid, state.pid_start_time))
    return Fail(Error(ESRCH, "container \"" + id + "\" is not running"));
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0)
    return FailErrno("kill container \"" + id + "\"");
  return {};
}

}  // namespace moor::runtime
