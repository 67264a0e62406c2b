#include "runtime/launcher.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"
#include "common/log.h"
#include "runtime/container_cgroup.h"
#include "runtime/container_init.h"
#include "runtime/hooks.h"
#include "runtime/process_io.h"
#include "runtime/namespaces.h"

namespace moor::runtime {
namespace {

// Undoes a half-made container unless Dismiss()ed.
class CreateGuard {
 public:
  explicit CreateGuard(ContainerDir dir) : dir_(std::move(dir)) {}
  ~CreateGuard() {
    if (dismissed_) return;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (cgroup_) {
      if (auto r = cgroup_->manager().Destroy(); !r) log::Warn("cleanup: " + r.error().message());
    }
    if (auto r = RemoveAll(dir_.dir()); !r) log::Warn("cleanup: " + r.error().message());
  }
  void set_pid(pid_t p) { pid_ = p; }
  void set_cgroup(ContainerCgroup* c) { cgroup_ = c; }
  void Dismiss() { dismissed_ = true; }

 private:
  ContainerDir dir_;
  pid_t pid_ = -1;
  ContainerCgroup* cgroup_ = nullptr;
  bool dismissed_ = false;
};

Result<std::string> RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return FailErrno("bundle \"" + p + "\"");
  return std::string(buf);
}

std::string MapLines(const std::vector<oci::IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps)
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  return out;
}

Result<void> WriteIdMaps(pid_t pid, const oci::Spec& spec) {
  std::string base = "/proc/" + std::to_string(pid);
  TRY_CTX(WriteExisting(base + "/uid_map", MapLines(spec.linux.uid_mappings)), "write linux.uidMappings");
  TRY_CTX(WriteExisting(base + "/gid_map", MapLines(spec.linux.gid_mappings)), "write linux.gidMappings");
  return {};
}

std::string ExeOf(pid_t pid) {
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

Result<void> WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  std::string tmp = path + ".moor-tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("write --pid-file \"" + path + "\"");
  std::string s = std::to_string(pid);
  if (::write(fd.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size())) return FailErrno("write --pid-file");
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return FailErrno("write --pid-file \"" + path + "\"");
  return {};
}

}  // namespace

Result<oci::Spec> LoadSavedSpec(const ContainerDir& dir) {
  std::string text = TRY(ReadFile(dir.config_file()));
  return oci::ParseSpec(text);
}

Status CurrentStatus(const ContainerDir& dir, const ContainerState& s) {
  if (!ProcessAlive(s.pid, s.pid_start_time)) return Status::kStopped;
  if (PathExists(dir.fifo())) return Status::kCreated;
  auto cg = ContainerCgroup::FromState(s);
  if (cg) {
    auto frozen = (*cg)->Frozen();
    if (frozen && *frozen) return Status::kPaused;
  }
  return Status::kRunning;
}

Result<CreatedContainer> CreateContainer(const CreateOptions& opts) {
  TRY(ValidateContainerId(opts.id));
  std::string bundle = TRY(RealPath(opts.bundle.empty() ? "." : opts.bundle));
  auto config_read = ReadFile(bundle + "/config.json");
  if (!config_read) {
    if (config_read.error().errnum() == ENOENT)
      return Fail(Error(ENOENT, "bundle " + bundle + " has no config.json; pass --bundle DIR or create one with "
                                "\"moor-runtime spec\""));
    return Fail(std::move(config_read.error()).Wrap("read bundle config"));
  }
  std::string config_text = std::move(*config_read);
  oci::Spec spec = TRY_CTX(oci::ParseSpec(config_text), "config.json");
  TRY_CTX(oci::ValidateSpec(spec), "config.json");
  log::Timing("config parsed");
  if (!spec.FindNamespace("mount") || !spec.FindNamespace("mount")->path.empty())
    return FailInvalid("config.json: linux.namespaces: a new mount namespace is required");
  if (spec.process->terminal && opts.console_socket.empty())
    return FailInvalid("config.json: process.terminal is true but no --console-socket was given; "
                       "set terminal to false or pass --console-socket");
  NamespacePlan ns = TRY_CTX(PlanNamespaces(spec), "config.json");
  for (const auto& j : ns.joins)
    if (!PathExists(j.path)) return Fail(Error(ENOENT, "config.json: linux.namespaces: \"" + j.path + "\" does not exist"));
  std::string rootfs = spec.root.path.front() == '/' ? spec.root.path : bundle + "/" + spec.root.path;
  {
    struct stat st;
    if (::stat(rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Fail(Error(ENOENT, "config.json: root.path: rootfs \"" + rootfs + "\" is not a directory"));
  }
  FinalizePlanPtr fin = TRY_CTX(PrepareFinalize(*spec.process, spec.linux.seccomp ? &*spec.linux.seccomp : nullptr),
                                "config.json");

  ContainerDir dir{opts.root, opts.id};
  // Declared before the guard so that the guard, destroyed first, can still use it.
  std::unique_ptr<ContainerCgroup> cgroup;
  TRY(MkdirAll(opts.root, 0700));
  if (::mkdir(dir.dir().c_str(), 0711) != 0) {
    if (errno == EEXIST) return Fail(Error(EEXIST, "container \"" + opts.id + "\" already exists"));
    return FailErrno("create state directory " + dir.dir());
  }
  CreateGuard guard(dir);
  TRY(WriteFileAtomic(dir.config_file(), config_text));

  cgroup = TRY_CTX(ContainerCgroup::Resolve(spec.linux.cgroups_path, opts.id), "config.json");
  RootfsPlan rootfs_plan = TRY_CTX(PlanRootfs(spec, bundle, cgroup->Views(), opts.no_pivot), "config.json");
  std::optional<oci::Resources> resources = spec.linux.resources;
  if (resources && !resources->devices.empty())
    for (auto& rule : RequiredDeviceRules(rootfs_plan)) resources->devices.push_back(std::move(rule));
  TRY_CTX(cgroup->Create(resources ? &*resources : nullptr), "cgroup");
  guard.set_cgroup(cgroup.get());
  log::Timing("cgroup created");
  if (spec.linux.resources && !spec.linux.resources->devices.empty() && !cgroup->manager().SupportsDeviceRules())
    log::Warn("linux.resources.devices: device rules are not enforced on this cgroup v2 host");
  if (!spec.process->apparmor_profile.empty())
    log::Warn("process.apparmorProfile: AppArmor is not available on this host; ignored");
  if (!spec.process->selinux_label.empty() || !spec.linux.mount_label.empty())
    log::Warn("process.selinuxLabel/linux.mountLabel: SELinux is not available on this host; ignored");

  UniqueFd fifo;
  if (!opts.start_via_sync) {
    if (::mkfifo(dir.fifo().c_str(), 0622) != 0) return FailErrno("create exec fifo");
    fifo.Reset(::open(dir.fifo().c_str(), O_RDWR | O_CLOEXEC));
    if (!fifo) return FailErrno("open exec fifo");
  }
  UniqueFd console;
  if (spec.process->terminal) console = TRY(ConnectConsoleSocket(opts.console_socket));

  auto [parent_end, child_end] = TRY(SyncChannel::Pair());
  bool parent_hooks = !spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty();

  ContainerState state;
  state.id = opts.id;
  state.bundle = bundle;
  state.rootfs = rootfs;
  state.created = NowRfc3339();
  state.cgroups_path = spec.linux.cgroups_path;
  cgroup->Record(state);
  state.annotations = spec.annotations;

  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, ns.clone_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0) return FailErrno("clone container process (namespaces " + std::to_string(ns.clone_flags) + ")");
  if (pid == 0) {
    parent_end.Close();
    ChildContext ctx;
    ctx.spec = &spec;
    ctx.ns = &ns;
    ctx.rootfs = &rootfs_plan;
    ctx.finalize = fin.get();
    ctx.sync = &child_end;
    ctx.parent_runs_hooks = parent_hooks;
    ctx.exec_fifo = fifo.get();
    ctx.console_socket = console.get();
    ctx.preserve_fds = opts.preserve_fds;
    RunContainerChild(ctx);
  }
  guard.set_pid(pid);
  log::Timing("cloned");
  child_end.Close();
  fifo.Reset();
  console.Reset();
  state.pid = pid;

  if (ns.new_user_ns()) {
    TRY(WriteIdMaps(pid, spec));
    TRY(parent_end.Send(SyncMsg::kMaps));
  }
  if (auto joined = cgroup->manager().AddProcess(pid); !joined) {
    // The child may have failed on its own meanwhile: its error explains more.
    ::kill(pid, SIGKILL);
    auto p = parent_end.Receive();
    if (p && p->type == SyncMsg::kError) return Fail(Error(p->errnum, p->text).WithExitCode(static_cast<int>(p->value)));
    return Fail(std::move(joined.error()).Wrap("cgroup"));
  }
  log::Timing("child in cgroup");
  (void)parent_end.Send(SyncMsg::kGo);  // a child that already failed reports below
  for (;;) {
    SyncPacket p = TRY_CTX(parent_end.Receive(), "create container");
    if (p.type == SyncMsg::kError) return Fail(Error(p.errnum, p.text).WithExitCode(static_cast<int>(p.value)));
    if (p.type == SyncMsg::kRunHooks) {
      std::string st = OciStateJson(state, Status::kCreating);
      TRY(RunHooks(spec.hooks.prestart, st, "prestart"));
      TRY(RunHooks(spec.hooks.create_runtime, st, "createRuntime"));
      TRY(parent_end.Send(SyncMsg::kHooksDone));
      continue;
    }
    if (p.type == SyncMsg::kReady) {
      log::Timing("child ready");
      break;
    }
    return Fail(Error(EPROTO, "create container: unexpected message from the container process"));
  }
  state.pid_start_time = ProcessStartTime(pid);
  TRY(SaveState(dir, state));
  TRY(WritePidFile(opts.pid_file, pid));
  guard.Dismiss();
  CreatedContainer out{dir, std::move(state), std::move(spec), {}, std::move(cgroup)};
  if (opts.start_via_sync) out.sync = std::move(parent_end);
  return out;
}

static Result<void> RunPoststart(const ContainerDir& dir, const ContainerState& state, const oci::Spec& spec) {
  if (spec.hooks.poststart.empty()) return {};
  auto r = RunHooks(spec.hooks.poststart, OciStateJson(state, Status::kRunning), "poststart");
  if (!r) log::Warn(r.error().message());
  (void)dir;
  return {};
}

Result<void> StartContainer(const std::string& root, const std::string& id) {
  TRY(ValidateContainerId(id));
  ContainerDir dir{root, id};
  ContainerState state = TRY(LoadState(dir));
  Status st = CurrentStatus(dir, state);
  if (st != Status::kCreated)
    return Fail(Error(EINVAL, "container \"" + id + "\" is " + StatusName(st) + ", not created; only a created container can be started"));
  auto spec = LoadSavedSpec(dir);
  bool poststart = spec && !spec->hooks.poststart.empty();
  std::string exe_before = poststart ? ExeOf(state.pid) : std::string();
  UniqueFd fifo(::open(dir.fifo().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) {
    if (errno == ENXIO) return Fail(Error(ESRCH, "container \"" + id + "\" process is gone; delete it"));
    return FailErrno("open exec fifo of \"" + id + "\"");
  }
  if (::write(fifo.get(), "0", 1) != 1) return FailErrno("start container \"" + id + "\"");
  fifo.Reset();
  ::unlink(dir.fifo().c_str());
  if (poststart) {
    // poststart hooks run after the user process has been exec'd: wait until
    // the container process's executable is no longer the runtime (bounded).
    for (int i = 0; i < 10000 && ProcessAlive(state.pid, state.pid_start_time) && ExeOf(state.pid) == exe_before; ++i)
      ::usleep(1000);
    TRY(RunPoststart(dir, state, *spec));
  }
  return {};
}

Result<void> RemoveExited(CreatedContainer& c) {
  auto& m = c.cgroup->manager();
  // With its own pid namespace, the kernel killed every process of the
  // container when its init died; otherwise others may still run.
  if (!c.spec.FindNamespace("pid") || !c.spec.FindNamespace("pid")->path.empty()) TRY(m.KillAll(SIGKILL));
  TRY_CTX(m.Destroy(), "delete container \"" + c.state.id + "\"");
  if (!c.spec.hooks.poststop.empty()) {
    auto r = RunHooks(c.spec.hooks.poststop, OciStateJson(c.state, Status::kStopped), "poststop");
    if (!r) log::Warn(r.error().message());
  }
  return RemoveAll(c.dir.dir());
}

Result<void> StartCreated(CreatedContainer& c) {
  TRY_CTX(c.sync.Send(SyncMsg::kStart), "start container");
  // The child's end is close-on-exec: closed means the process was exec'd.
  if (!c.spec.hooks.poststart.empty()) c.sync.WaitClosed();
  c.sync.Close();
  return RunPoststart(c.dir, c.state, c.spec);
}

}  // namespace moor::runtime
