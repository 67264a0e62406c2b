// exec: a new process inside a running container.
//
//   parent ──clone──▶ joiner: setns(pidfd, all of the container's namespaces)
//                       └─clone(CLONE_PARENT)──▶ process (in the container's
//                          pid namespace, a child of the parent) → execve
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"
#include "runtime/container_cgroup.h"
#include "runtime/container_init.h"
#include "runtime/finalize.h"
#include "runtime/forward_wait.h"
#include "runtime/namespaces.h"
#include "runtime/ops.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace moor::runtime {
namespace {

Result<UniqueFd> Connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("console socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return FailInvalid("--console-socket path is too long");
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return FailErrno("connect to --console-socket \"" + path + "\"");
  return fd;
}

Result<void> Terminal(int console_socket, const oci::Process& p) {
  UniqueFd master(::open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return FailErrno("open /dev/pts/ptmx in the container");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return FailErrno("unlock pty");
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return FailErrno("open pty peer");
  if (p.console_size) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(p.console_size->height);
    ws.ws_col = static_cast<unsigned short>(p.console_size->width);
    ::ioctl(master.get(), TIOCSWINSZ, &ws);
  }
  TRY(SendFd(console_socket, master.get()));
  master.Reset();
  if (::setsid() < 0) return FailErrno("setsid");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) return FailErrno("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave.get(), i) < 0) return FailErrno("dup2 terminal");
  return {};
}

// In the container's namespaces, after the parent put us in its cgroup.
[[noreturn]] void ExecProcess(const ExecOptions& o, const FinalizePlan& fin, const SyncChannel& sync, int console) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  auto setup = [&]() -> Result<std::string> {
    TRY(sync.Expect(SyncMsg::kGo));
    if (o.process.terminal) TRY(Terminal(console, o.process));
    if (console >= 0) ::close(console);
    std::string exe = TRY(FindExecutable(o.process.args[0], o.process.env));
    TRY(ApplyRlimits(fin));
    TRY(ApplyIdentity(fin));
    if (::chdir(o.process.cwd.c_str()) != 0) return FailErrno("chdir to cwd \"" + o.process.cwd + "\"");
    unsigned first = 3u + static_cast<unsigned>(o.preserve_fds);
    if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return FailErrno("close_range");
    for (int fd = 3; fd < 3 + o.preserve_fds; ++fd) {
      int f = ::fcntl(fd, F_GETFD);
      if (f >= 0) ::fcntl(fd, F_SETFD, f & ~FD_CLOEXEC);
    }
    TRY(ApplyLateSeccomp(fin));
    return exe;
  };
  auto exe = setup();
  if (!exe) {
    (void)sync.SendError(std::move(exe.error()).Wrap("exec"));
    _exit(1);
  }
  (void)sync.Send(SyncMsg::kReady, 0);
  std::vector<std::string> args = o.process.args, env = o.process.env;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ::execve(exe->c_str(), argv.data(), envp.data());
  int err = errno;
  std::string m = "moor-runtime: exec \"" + *exe + "\": " + strerror(err) + "\n";
  (void)!::write(2, m.data(), m.size());
  _exit(err == ENOENT ? 127 : 126);
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
  if (o.process.terminal) console = TRY(Connect(o.console_socket));
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
    if (p == 0) ExecProcess(o, *fin, child_end, console.get());
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
