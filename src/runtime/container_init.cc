#include "runtime/container_init.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"
#include "common/strings.h"
#include "runtime/hooks.h"
#include "runtime/process_io.h"
#include "runtime/rootfs_setup.h"

namespace moor::runtime {
namespace {

Result<void> JoinNamespaces(const NamespacePlan& ns) {
  for (const auto& j : ns.joins) {
    UniqueFd fd(::open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno("open namespace \"" + j.path + "\"");
    if (::setns(fd.get(), j.flag) != 0)
      return FailErrno(std::string("join ") + NamespaceProcName(j.flag) + " namespace \"" + j.path + "\"");
  }
  return {};
}

// A new network namespace starts with "lo" down; programs expect localhost.
Result<void> BringUpLoopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return FailErrno("socket for loopback setup");
  struct ifreq ifr = {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return FailErrno("read flags of lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return FailErrno("bring lo up");
  return {};
}

Result<void> WriteSysctls(const oci::Spec& spec) {
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    for (auto& c : path)
      if (c == '.') c = '/';
    TRY_CTX(WriteExisting(path, value), "sysctl " + key);
  }
  return {};
}

Result<void> WaitForStart(const ChildContext& ctx) {
  if (ctx.exec_fifo >= 0) {
    char c;
    for (;;) {
      ssize_t n = ::read(ctx.exec_fifo, &c, 1);
      if (n == 1) break;
      if (n < 0 && errno == EINTR) continue;
      return FailErrno("wait for start on exec fifo");
    }
    ::close(ctx.exec_fifo);
    return {};
  }
  TRY(ctx.sync->Expect(SyncMsg::kStart));
  return {};
}

Result<std::string> Setup(const ChildContext& ctx, std::vector<std::string>& env) {
  const oci::Spec& spec = *ctx.spec;
  const oci::Process& proc = *spec.process;
  // The parent moves us into the container's cgroup meanwhile (that write can
  // wait for an RCU grace period), so namespace and mount setup overlap it;
  // only the cgroup namespace and what runs code from the bundle wait for it.
  if (ctx.ns->new_user_ns()) {
    TRY(ctx.sync->Expect(SyncMsg::kMaps));
    if (::setresgid(0, 0, 0) != 0) return FailErrno("become root (gid 0) in the user namespace");
    if (::setresuid(0, 0, 0) != 0) return FailErrno("become root (uid 0) in the user namespace");
  }
  TRY(JoinNamespaces(*ctx.ns));
  if (ctx.ns->clone_flags & CLONE_NEWNET) TRY(BringUpLoopback());
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    return FailErrno("set hostname");
  if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    return FailErrno("set domainname");
  TRY(WriteSysctls(spec));
  if (proc.oom_score_adj)
    TRY_CTX(WriteExisting("/proc/self/oom_score_adj", std::to_string(*proc.oom_score_adj)), "set oomScoreAdj");

  ConsoleFds console;
  TRY(PrepareRootfs(*ctx.rootfs, proc.terminal ? &proc : nullptr, &console));
  TRY(ctx.sync->Expect(SyncMsg::kGo));
  if (ctx.ns->new_cgroup_ns && ::unshare(CLONE_NEWCGROUP) != 0) return FailErrno("create cgroup namespace");
  if (ctx.parent_runs_hooks) {
    TRY(ctx.sync->Send(SyncMsg::kRunHooks));
    TRY(ctx.sync->Expect(SyncMsg::kHooksDone));
  }
  if (!spec.hooks.create_container.empty()) {
    std::string st = "{\"ociVersion\":\"1.0.2\",\"status\":\"creating\",\"pid\":" + std::to_string(::getpid()) + "}";
    TRY(RunHooks(spec.hooks.create_container, st, "createContainer"));
  }
  TRY(EnterRootfs(*ctx.rootfs));

  if (proc.terminal) {
    if (ctx.console_socket >= 0) {
      TRY_CTX(SendFd(ctx.console_socket, console.master.get()), "send pty master to --console-socket");
      ::close(ctx.console_socket);
    }
    console.master.Reset();
    TRY(BecomeTerminalSession(console.slave.get()));
    console.slave.Reset();
  }

  std::string exe = TRY(FindExecutable(proc.args[0], env));
  TRY(ApplyRlimits(*ctx.finalize));
  TRY(ApplyIdentity(*ctx.finalize));
  if (::chdir(proc.cwd.c_str()) != 0) return FailErrno("chdir to process.cwd \"" + proc.cwd + "\"");
  // CVE-2024-21626: the cwd must be inside the container's root.
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return FailErrno("process.cwd \"" + proc.cwd + "\" is outside the container root");
  TRY(PassOnlyPreservedFds(ctx.preserve_fds));
  return exe;
}

}  // namespace

Result<std::string> FindExecutable(const std::string& file, const std::vector<std::string>& env) {
  auto check = [](const std::string& p) -> Result<std::string> {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      int err = errno;
      return Fail(Error::FromErrno(err, "exec \"" + p + "\"").WithExitCode(err == ENOENT ? 127 : 126));
    }
    if (S_ISDIR(st.st_mode)) return Fail(Error(EACCES, "exec \"" + p + "\": is a directory").WithExitCode(126));
    if (::access(p.c_str(), X_OK) != 0) return Fail(Error::FromErrno("exec \"" + p + "\"").WithExitCode(126));
    return p;
  };
  if (file.find('/') != std::string::npos) return check(file);
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (StartsWith(e, "PATH=")) path = e.substr(5);
  for (const auto& dir : Split(path, ':')) {
    std::string cand = (dir.empty() ? "." : dir) + "/" + file;
    struct stat st;
    if (::stat(cand.c_str(), &st) == 0 && !S_ISDIR(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return Fail(Error(ENOENT, "exec: \"" + file + "\": executable file not found in $PATH").WithExitCode(127));
}

void RunContainerChild(const ChildContext& ctx) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the parent may block signals it forwards
  std::vector<std::string> env = ctx.spec->process->env;
  auto exe = Setup(ctx, env);
  if (!exe) {
    (void)ctx.sync->SendError(std::move(exe.error()).Wrap("container init"));
    _exit(1);
  }
  if (auto r = ctx.sync->Send(SyncMsg::kReady, ::getpid()); !r) _exit(1);
  if (auto r = WaitForStart(ctx); !r) _exit(1);
  if (!ctx.spec->hooks.start_container.empty()) {
    std::string st = "{\"ociVersion\":\"1.0.2\",\"status\":\"created\",\"pid\":" + std::to_string(::getpid()) + "}";
    if (auto r = RunHooks(ctx.spec->hooks.start_container, st, "startContainer"); !r) {
      std::string m = "moor-runtime: " + r.error().message() + "\n";
      (void)!::write(2, m.data(), m.size());
      _exit(1);
    }
  }
  if (auto r = ApplyLateSeccomp(*ctx.finalize); !r) {
    std::string m = "moor-runtime: " + r.error().message() + "\n";
    (void)!::write(2, m.data(), m.size());
    _exit(1);
  }
  ExecProcess(*exe, *ctx.spec->process, env);
}

}  // namespace moor::runtime
