// exec: a new process inside a running container.
//
//   parent ──clone──▶ joiner: setns(pidfd, all of the container's namespaces)
//                       └─clone(CLONE_PARENT)──▶ process (in the container's
//                          pid namespace, a child of the parent) → execve
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"
#include "runtime/container_cgroup.h"
#include "runtime/container_init.h"
#include "runtime/finalize.h"
#include "runtime/forward_wait.h"
#include "runtime/namespaces.h"
#include "runtime/ops.h"
#include "runtime/process_io.h"

namespace moor::runtime {
namespace {

// In the container's namespaces, after the parent put us in its cgroup.
[[noreturn]] void RunExecChild(const ExecOptions& o, const FinalizePlan& fin, const SyncChannel& sync, int console) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  auto setup = [&]() -> Result<std::string> {
    TRY(sync.Expect(SyncMsg::kGo));
    if (o.process.terminal) {
      // After setns(CLONE_NEWNS) our root is the container's.
      Pty pty = TRY(OpenPty("/dev/pts/ptmx", o.process));
      TRY(SendFd(console, pty.master.get()));
      TRY(BecomeTerminalSession(pty.slave.get()));
    }
    if (console >= 0) ::close(console);
    std::string exe = TRY(FindExecutable(o.process.args[0], o.process.env));
    TRY(ApplyRlimits(fin));
    TRY(ApplyIdentity(fin));
    if (::chdir(o.process.cwd.c_str()) != 0) return FailErrno("chdir to cwd \"" + o.process.cwd + "\"");
    TRY(PassOnlyPreservedFds(o.preserve_fds));
    TRY(ApplyLateSeccomp(fin));
    return exe;
  };
  auto exe = setup();
  if (!exe) {
    (void)sync.SendError(std::move(exe.error()).Wrap("exec"));
    _exit(1);
  }
  (void)sync.Send(SyncMsg::kReady, 0);
  ExecProcess(*exe, o.process, o.process.env);
}

}  // namespace

Result<int> ExecInContainer(const ExecOptions& o) {
  TRY(ValidateContainerId(o.id));
  TRY_CTX(oci::ValidateProcess(o.process), "exec");
  if (o.process.terminal && o.console_socket.empty())
    return FailInvalid("exec: --tty needs --console-socket");
  ContainerDir dir{o.root, o.id};
  ContainerState state = TRY(LoadState(dir));
  Status st = CurrentStatus(dir, state);
  if (st == Status::kStopped) return Fail(Error(ESRCH, "container \"" + o.id + "\" is not running"));
  if (st == Status::kPaused) return Fail(Error(EBUSY, "container \"" + o.id + "\" is paused; resume it first"));
  oci::Spec spec = TRY(LoadSavedSpec(dir));
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, state.pid, 0)));
  if (!pidfd || !ProcessAlive(state.pid, state.pid_start_time))
    return Fail(Error(ESRCH, "container \"" + o.id + "\" is not running"));
  int ns_flags = 0;
  for (const auto& n : spec.linux.namespaces) ns_flags |= NamespaceFlag(n.type);
  FinalizePlanPtr fin = TRY(PrepareFinalize(o.process, spec.linux.seccomp ? &*spec.linux.seccomp : nullptr));
  auto cg = TRY(ContainerCgroup::FromState(state));
  UniqueFd console;
  if (o.process.terminal) console = TRY(ConnectConsoleSocket(o.console_socket));
  auto [parent_end, child_end] = TRY(SyncChannel::Pair());

  sigset_t old = BlockForwardedSignals();
  pid_t joiner = ::fork();
  if (joiner < 0) return FailErrno("fork");
  if (joiner == 0) {
    parent_end.Close();
    if (::setns(pidfd.get(), ns_flags) != 0) {
      (void)child_end.SendError(Error::FromErrno("exec: join the container's namespaces"));
      _exit(1);
    }
    pid_t p = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (p < 0) {
      (void)child_end.SendError(Error::FromErrno("exec: clone into the container"));
      _exit(1);
    }
    if (p == 0) RunExecChild(o, *fin, child_end, console.get());
    (void)child_end.Send(SyncMsg::kPid, p);
    _exit(0);
  }
  child_end.Close();
  console.Reset();
  auto restore = [&] { sigprocmask(SIG_SETMASK, &old, nullptr); };
  auto fail = [&](Error e) -> Result<int> {
    restore();
    return Fail(std::move(e));
  };
  auto pidp = parent_end.Expect(SyncMsg::kPid);
  ::waitpid(joiner, nullptr, 0);
  if (!pidp) return fail(std::move(pidp.error()));
  pid_t pid = static_cast<pid_t>(pidp->value);
  if (auto r = cg->manager().AddProcess(pid); !r) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return fail(std::move(r.error()));
  }
  if (auto r = parent_end.Send(SyncMsg::kGo); !r) return fail(std::move(r.error()));
  auto ready = parent_end.Expect(SyncMsg::kReady);
  if (!ready) {
    ::waitpid(pid, nullptr, 0);
    return fail(std::move(ready.error()));
  }
  if (!o.pid_file.empty()) {
    if (auto r = WriteFileAtomic(o.pid_file, std::to_string(pid)); !r) return fail(std::move(r.error()));
  }
  if (o.detach) {
    restore();
    return 0;
  }
  auto code = WaitForwardingSignals(pid);
  restore();
  return code;
}

}  // namespace moor::runtime
