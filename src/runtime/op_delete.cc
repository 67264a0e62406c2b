#include <signal.h>
#include <sys/syscall.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "runtime/container_cgroup.h"
#include "runtime/hooks.h"
#include "runtime/ops.h"

namespace moor::runtime {
namespace {

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits until the recorded process is gone (reaped by its parent or a zombie).
bool WaitGone(pid_t pid, uint64_t start, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  while (ProcessAlive(pid, start)) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    if (pidfd) {
      struct pollfd p = {pidfd.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 50)));
    } else {
      ::usleep(1000);
    }
  }
  return true;
}

}  // namespace

Result<void> DeleteContainer(const std::string& root, const std::string& id, bool force) {
  TRY(ValidateContainerId(id));
  ContainerDir dir{root, id};
  if (!PathExists(dir.dir())) return Fail(Error(ENOENT, "container \"" + id + "\" does not exist"));
  auto saved_spec = LoadSavedSpec(dir);
  auto state = LoadState(dir);
  if (!state) {
    // Creation was interrupted before the state was written: the config copy
    // still tells which cgroup it may have made.
    if (!force) return Fail(std::move(state.error()));
    if (saved_spec) {
      auto cg = ContainerCgroup::Resolve(saved_spec->linux.cgroups_path, id);
      if (cg) {
        auto& m = (*cg)->manager();
        (void)m.Thaw();
        (void)m.KillAll(SIGKILL);
        TRY(m.Destroy());
      }
    }
    return RemoveAll(dir.dir());
  }
  Status st = CurrentStatus(dir, *state);
  if ((st == Status::kRunning || st == Status::kPaused) && !force)
    return Fail(Error(EBUSY, "container \"" + id + "\" is " + StatusName(st) + "; stop it first or use delete --force"));
  auto cg = ContainerCgroup::FromState(*state);
  if (st != Status::kStopped) {
    if (ProcessAlive(state->pid, state->pid_start_time)) ::kill(state->pid, SIGKILL);
    // Frozen processes cannot die: thaw first, then kill everything.
    if (cg && st == Status::kPaused) (void)(*cg)->manager().Thaw();
    if (cg) (void)(*cg)->manager().KillAll(SIGKILL);
    if (!WaitGone(state->pid, state->pid_start_time, 10000))
      return Fail(Error(EBUSY, "container \"" + id + "\" process " + std::to_string(state->pid) +
                                   " did not exit after SIGKILL; try again"));
  }
  if (cg) {
    // Other processes may still be leaving the cgroup.
    (void)(*cg)->manager().KillAll(SIGKILL);
    TRY_CTX((*cg)->manager().Destroy(), "delete container \"" + id + "\"");
  }
  if (saved_spec && !saved_spec->hooks.poststop.empty()) {
    auto r = RunHooks(saved_spec->hooks.poststop, OciStateJson(*state, Status::kStopped), "poststop");
    if (!r) log::Warn(r.error().message());
  }
  return RemoveAll(dir.dir());
}

}  // namespace moor::runtime
