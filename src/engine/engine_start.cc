// Starting a container: rootfs, network, generated files, spec, published
// ports, then its monitor; following the monitor's events; finalising when
// the monitor is gone; reconciling after a daemon restart.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/container_spec.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/process_runner.h"
#include "image/snapshot/snapshotter.h"
#include "proxy/port_proxy.h"
#include "oci/spec_serialize.h"

namespace moor::engine {

using nlohmann::json;

namespace {

std::string SelfDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.parent_path().string();
}

bool Executable(const std::string& p) { return !p.empty() && access(p.c_str(), X_OK) == 0; }

std::string FindSibling(const std::string& name) {
  std::string dir = SelfDir();
  for (const std::string& cand : {dir + "/" + name, dir + "/../" + name + "/" + name}) {
    if (Executable(cand)) return std::filesystem::weakly_canonical(cand).string();
  }
  return "";
}

std::string FindOnPath(const std::string& name) {
  const char* path = getenv("PATH");
  for (const auto& d : Split(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
    if (Executable(d + "/" + name)) return d + "/" + name;
  }
  return "";
}

// /etc/resolv.conf for bridged containers: moor's DNS server when discovery
// serves one on the bridge (it forwards other names to the host's
// resolvers), else the host's, without loopback nameservers (unreachable
// from another network namespace).
std::string ResolvConf(const std::string& moor_dns) {
  auto host = ReadFile("/etc/resolv.conf");
  std::string out;
  bool any = false;
  if (!moor_dns.empty()) {
    out = "# moor: service discovery DNS (NAME.service.moor); other names are forwarded\nnameserver " + moor_dns +
          "\n";
    any = true;
  }
  if (host) {
    for (const auto& line : Split(*host, '\n')) {
      auto t = std::string(Trim(line));
      if (StartsWith(t, "nameserver")) {
        if (!moor_dns.empty()) continue;
        auto addr = std::string(Trim(t.substr(10)));
        if (StartsWith(addr, "127.") || addr == "::1") continue;
        any = true;
      }
      out += line + "\n";
    }
  }
  if (!any) out += "# moor: the host's nameservers are on loopback and cannot be used from a container\n";
  return out;
}

std::string OomFile(const std::string& cgroup_path) {
  struct stat st {};
  if (stat("/sys/fs/cgroup/memory", &st) == 0) return "/sys/fs/cgroup/memory" + cgroup_path + "/memory.oom_control";
  return "/sys/fs/cgroup" + cgroup_path + "/memory.events";
}

}  // namespace

std::string Engine::RuntimePath(const std::string& name) const {
  if (auto it = cfg_.runtimes.find(name); it != cfg_.runtimes.end()) return it->second;
  if (name == "moor") {
    if (const char* env = getenv("MOOR_RUNTIME"); env && Executable(env)) return env;
    auto s = FindSibling("moor-runtime");
    return s.empty() ? FindOnPath("moor-runtime") : s;
  }
  if (name == "runc" || name == "crun") return FindOnPath(name);
  return "";
}

std::vector<std::string> Engine::RuntimeArgv(const std::string& name) const {
  return {RuntimePath(name), "--root", cfg_.RuntimeRoot() + "/" + name};
}

Result<void> Engine::Start(const std::string& key) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  return StartLocked(*c, lock);
}

Result<void> Engine::StartLocked(Live& c, std::unique_lock<std::mutex>& lock) {
  ContainerRecord& r = c.rec;
  // --debug: where the time of a start goes.
  auto t0 = std::chrono::steady_clock::now();
  auto mark = [&](const char* phase) {
    log::Debug("start " + r.id.substr(0, 12) + ": " + phase + " at " +
               std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - t0).count()) + " us");
  };
  if (c.removed) return Fail(Error(ENOENT, "no such container: " + r.id));
  if (r.Running()) return Fail(Error(EALREADY, "container " + r.name + " is already running"));
  if (c.prepared) FinalizeLocked(c);  // leftovers of the previous run

  image::ResolvedImage img;
  std::vector<std::string> lowers;
  {
    std::lock_guard ilock(images_mu_);
    auto resolved = images_->Resolve(r.image_id);
    if (!resolved) {
      return Fail(Error(ENOENT, "image " + r.image_ref + " (" + r.image_id.substr(0, 19) +
                                    ") of this container was removed: pull it again"));
    }
    img = std::move(*resolved);
    lowers = TRY_CTX(images_->Layers(img), "unpack image " + r.image_ref);
  }

  const std::string cdir = cfg_.ContainerDir(r.id);
  const std::string bundle = cdir + "/bundle";
  const std::string rootfs = bundle + "/rootfs";
  const std::string mdir = cfg_.MonitorDir(r.id);
  std::string netns_path;
  std::vector<net::PortForward> forwards;
  std::vector<BoundPort> bound;
  bool mounted = false;
  bool plumbed = false;
  auto undo = [&] {
    forwards.clear();
    if (plumbed) (void)networks_->Unplumb(r.id, netns_path);
    if (mounted) (void)image::UnmountOverlay(rootfs);
    (void)RemoveAll(mdir);
  };
  auto fail = [&](Error e) -> Result<void> {
    undo();
    return Fail(std::move(e).Wrap("start container " + r.name));
  };

  mark("image resolved");
  if (auto m = MkdirAll(rootfs, 0755); !m) return fail(m.error());
  if (auto m = image::MountOverlay(lowers, cdir, rootfs); !m) return fail(m.error());
  mounted = true;

  mark("rootfs mounted");
  SpecContext ctx;
  ctx.id = r.id;
  ctx.rootfs = rootfs;
  ctx.cgroup_path = "/moor/" + r.id;
  const std::string& mode = r.config.network_mode;
  if (mode == "host") {
    ctx.host_network = true;
  } else if (mode.rfind("container:", 0) == 0) {
    auto other = Find(mode.substr(10));
    if (!other) return fail(other.error());
    std::lock_guard olock((*other)->mu);
    const auto& o = (*other)->rec;
    if (o.state.status != "running" && o.state.status != "paused") {
      return fail(Error(EINVAL, "--network " + mode + ": container " + o.name + " is not running"));
    }
    ctx.netns_path = !o.netns_path.empty() ? o.netns_path : "/proc/" + std::to_string(o.state.pid) + "/ns/net";
  } else if (mode != "none") {
    auto p = networks_->Plumb(r.id, r.endpoint);
    if (!p) return fail(p.error());
    netns_path = *p;
    plumbed = true;
    ctx.netns_path = netns_path;
  }
  if (!ctx.host_network) {
    std::string hostname = r.config.hostname.empty() ? r.id.substr(0, 12) : r.config.hostname;
    std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    if (!r.endpoint.ip.empty()) hosts += r.endpoint.ip + "\t" + hostname + "\n";
    ctx.hosts_file = cdir + "/hosts";
    ctx.resolv_file = cdir + "/resolv.conf";
    ctx.hostname_file = cdir + "/hostname";
    for (auto [path, text] : {std::pair{ctx.hosts_file, hosts}, std::pair{ctx.resolv_file, ResolvConf(ContainerResolver())},
                              std::pair{ctx.hostname_file, hostname + "\n"}}) {
      if (auto w = WriteFileAtomic(path, text); !w) return fail(w.error());
    }
  }
  for (const auto& m : r.config.mounts) {
    if (m.type != "volume") {
      ctx.volume_paths.push_back("");
      continue;
    }
    auto v = volumes_->Get(m.source);
    if (!v) return fail(v.error());
    ctx.volume_paths.push_back(v->mountpoint);
  }
  if (r.config.init) {
    ctx.init_path = !cfg_.init_path.empty() ? cfg_.init_path : FindSibling("moor-init");
    if (ctx.init_path.empty()) return fail(Error(ENOENT, "--init: moor-init was not found next to moor"));
  }
  mark("network ready");
  auto spec = BuildContainerSpec(r.config, img.config, ctx);
  if (!spec) return fail(spec.error());
  if (auto w = WriteFileAtomic(bundle + "/config.json", oci::SpecToJson(*spec)); !w) return fail(w.error());
  auto stop_signal = StopSignal(r.config, img.config);
  if (!stop_signal) return fail(stop_signal.error());

  // Published ports: bound here so "port in use" fails the start, and so
  // clients can connect the moment start returns.
  for (const auto& p : r.config.ports) {
    if (mode == "host") break;  // host network: the container binds itself
    int chosen = 0;
    auto fd = net::BindHostPort(p.host_ip.empty() ? "0.0.0.0" : p.host_ip, p.host_port, p.udp, &chosen);
    if (!fd) return fail(Error(EADDRINUSE, fd.error().message()));
    net::PortForward f;
    f.listen_fd = std::move(*fd);
    f.udp = p.udp;
    f.backend.sin_family = AF_INET;
    f.backend.sin_port = htons(static_cast<uint16_t>(p.container_port));
    inet_pton(AF_INET, r.endpoint.ip.c_str(), &f.backend.sin_addr);
    forwards.push_back(std::move(f));
    bound.push_back({p.container_port, p.udp, p.host_ip.empty() ? "0.0.0.0" : p.host_ip, chosen});
  }

  monitor::MonitorConfig mc;
  mc.id = r.id;
  mc.dir = mdir;
  mc.runtime = RuntimeArgv(r.runtime);
  mc.bundle = bundle;
  mc.log_path = cdir + "/" + r.id + "-json.log";
  mc.log_max_size = cfg_.log_max_size;
  mc.log_max_files = cfg_.log_max_files;
  mc.tty = r.config.tty;
  mc.open_stdin = r.config.open_stdin;
  mc.restart.name = r.config.restart.name;
  mc.restart.max_retries = r.config.restart.max_retries;
  for (size_t i = 0; i < forwards.size(); ++i) {
    monitor::PublishedPort pp;
    pp.fd = forwards[i].listen_fd.get();
    pp.udp = forwards[i].udp;
    pp.backend_ip = r.endpoint.ip;
    pp.backend_port = ntohs(forwards[i].backend.sin_port);
    mc.ports.push_back(pp);
  }
  mc.oom_file = OomFile(ctx.cgroup_path);
  mc.stop_signal = *stop_signal;
  (void)RemoveAll(mdir);
  if (auto m = MkdirAll(mdir, 0700); !m) return fail(m.error());
  auto mc_json = monitor::MonitorConfigToJson(mc);
  if (!mc_json) return fail(mc_json.error());
  const std::string mc_path = mdir + "/config.json";
  if (auto w = WriteFileAtomic(mc_path, *mc_json); !w) return fail(w.error());

  mark("bundle written");
  static const std::string sibling = FindSibling("moor-monitor");
  const std::string& monitor_bin = !cfg_.monitor_path.empty() ? cfg_.monitor_path : sibling;
  std::vector<int> keep;
  for (const auto& f : forwards) keep.push_back(f.listen_fd.get());
  pid_t pid = fork();
  if (pid < 0) return fail(Error::FromErrno("fork monitor"));
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    for (int fd : keep) {
      int fl = fcntl(fd, F_GETFD);
      if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    if (!monitor_bin.empty()) {
      const char* argv[] = {"moor-monitor", "--config", mc_path.c_str(), nullptr};
      execv(monitor_bin.c_str(), const_cast<char* const*>(argv));
    } else {
      const char* argv[] = {"moor", "monitor", "--config", mc_path.c_str(), nullptr};
      execv("/proc/self/exe", const_cast<char* const*>(argv));
    }
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  forwards.clear();  // the monitor has its own copies now
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(Error(EIO, "the container's monitor failed to start (exit status " +
                               std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                               "); see the daemon's log"));
  }
  mark("monitor ready");
  c.prepared = true;
  c.monitor_alive = true;
  r.netns_path = netns_path;
  r.ports = bound;
  r.state.status = "running";
  r.state.pid = 0;
  r.state.error.clear();
  r.state.manually_stopped = false;
  r.state.health = {};
  uint64_t dies = c.die_count;
  (void)Save(c);

  // Follow the monitor, then wait until the process runs (or failed to).
  std::shared_ptr<Live> self_ref;
  {
    std::lock_guard elock(mu_);
    self_ref = containers_[r.id];
  }
  Subscribe(self_ref);
  c.cv.wait_for(lock, std::chrono::seconds(60),
                [&] { return r.state.pid > 0 || c.die_count != dies || !c.monitor_alive; });
  // Exited before its pid was seen: a start failure only when the runtime
  // said so (a container may well run and exit that fast).
  if (r.state.pid <= 0 && (c.die_count != dies || !c.monitor_alive) &&
      (!r.state.error.empty() || c.die_count == dies)) {
    std::string why = r.state.error.empty() ? "the container's monitor ended before the container started"
                                            : r.state.error;
    int code = r.state.exit_code == 127 || r.state.exit_code == 126 ? r.state.exit_code : 0;
    Error e(EINVAL, "start container " + r.name + ": " + why);
    return Fail(code ? std::move(e).WithExitCode(code) : std::move(e));
  }
  mark("container running");
  Publish(r, "start");
  StartHealth(self_ref);
  return {};
}

void Engine::Subscribe(const std::shared_ptr<Live>& c) {
  std::string dir = cfg_.MonitorDir(c->rec.id);
  std::string first;
  auto conn = monitor::MonitorOpenStream(dir, R"({"op":"subscribe"})", 5000, &first);
  if (!conn) {
    log::Warn("container " + c->rec.name + ": " + conn.error().message());
    std::thread([this, c] { OnMonitorGone(c); }).detach();
    return;
  }
  c->sub_fd = conn->get();
  // The state may have moved before the subscription: take it from disk.
  if (auto st = monitor::ReadMonitorState(dir)) {
    ApplyMonitorState(*st, &c->rec.state);
    c->cv.notify_all();
  }
  std::thread([this, c, fd = std::move(*conn)]() mutable {
    std::string buf, line;
    while (ReadLine(fd.get(), buf, &line)) OnMonitorEvent(c, line);
    {
      std::lock_guard lock(c->mu);
      c->sub_fd = -1;
    }
    fd.Reset();
    OnMonitorGone(c);
  }).detach();
}

void Engine::OnMonitorEvent(const std::shared_ptr<Live>& c, const std::string& line) {
  std::string event;
  json ev;
  try {
    ev = json::parse(line);
    event = ev.value("event", "");
  } catch (const json::exception&) {
    return;
  }
  std::lock_guard lock(c->mu);
  if (auto st = monitor::ReadMonitorState(cfg_.MonitorDir(c->rec.id))) {
    bool paused = c->rec.state.status == "paused";
    ApplyMonitorState(*st, &c->rec.state);
    if (paused && c->rec.state.status == "running") c->rec.state.status = "paused";
  }
  auto& s = c->rec.state;
  if (event == "start") {
    if (s.restart_count > 0) Publish(c->rec, "start");
  } else if (event == "die") {
    // The event carries the exit: state.json may not have it yet.
    s.exit_code = ev.value("exit_code", s.exit_code);
    s.oom_killed = ev.value("oom_killed", s.oom_killed);
    s.pid = 0;
    if (s.status == "running") s.status = "exited";
    if (s.finished_at.empty() || s.finished_at < s.started_at) s.finished_at = NowRfc3339Nano();
    ++c->die_count;
    if (s.oom_killed) Publish(c->rec, "oom");
    Publish(c->rec, "die", {{"exitCode", std::to_string(s.exit_code)}});
  } else if (event == "restart") {
    Publish(c->rec, "restart");
  }
  (void)Save(*c);
}

void Engine::OnMonitorGone(const std::shared_ptr<Live>& c) {
  {
    std::lock_guard elock(mu_);
    if (shutting_down_) {
      std::lock_guard lock(c->mu);
      c->cv.notify_all();
      return;
    }
  }
  std::unique_lock lock(c->mu);
  c->monitor_alive = false;
  if (c->removed) return;
  auto st = monitor::ReadMonitorState(cfg_.MonitorDir(c->rec.id));
  if (st) ApplyMonitorState(*st, &c->rec.state);
  if (!st || st->status != "exited") {
    // The monitor died without recording an exit (killed, or the machine
    // rebooted): the container is gone with it.
    c->rec.state.status = "exited";
    c->rec.state.pid = 0;
    if (c->rec.state.exit_code == 0) c->rec.state.exit_code = 255;
    if (c->rec.state.error.empty()) c->rec.state.error = "the container's monitor ended unexpectedly";
    c->rec.state.finished_at = NowRfc3339Nano();
    ++c->die_count;
  }
  c->health_stop = true;
  FinalizeLocked(*c);
  (void)Save(*c);
  if (c->rec.config.auto_remove) (void)RemoveLocked(*c, lock, true);
}

void Engine::FinalizeLocked(Live& c) {
  if (!c.prepared) return;
  const std::string& id = c.rec.id;
  (void)RunTool({RuntimePath(c.rec.runtime), "--root", cfg_.RuntimeRoot() + "/" + c.rec.runtime, "delete",
                 "--force", id});
  if (auto r = image::UnmountOverlay(cfg_.ContainerDir(id) + "/bundle/rootfs"); !r) {
    log::Warn("container " + c.rec.name + ": unmount rootfs: " + r.error().message());
  }
  if (!c.rec.netns_path.empty() || !c.rec.endpoint.ip.empty()) {
    if (auto r = networks_->Unplumb(id, c.rec.netns_path); !r) {
      log::Warn("container " + c.rec.name + ": " + r.error().message());
    }
  }
  c.rec.netns_path.clear();
  c.rec.ports.clear();
  c.prepared = false;
  c.cv.notify_all();
}

Result<void> Engine::Reconcile(const std::shared_ptr<Live>& c) {
  std::unique_lock lock(c->mu);
  if (!c->rec.Running()) return {};
  std::string dir = cfg_.MonitorDir(c->rec.id);
  std::string first;
  auto probe = monitor::MonitorOpenStream(dir, R"({"op":"state"})", 2000, &first);
  c->prepared = true;
  if (probe) {
    c->monitor_alive = true;
    Subscribe(c);
    StartHealth(c);
    return {};
  }
  // The monitor is gone: take its last word, clean up, apply the policy.
  if (auto st = monitor::ReadMonitorState(dir)) ApplyMonitorState(*st, &c->rec.state);
  if (c->rec.Running()) {
    c->rec.state.status = "exited";
    c->rec.state.pid = 0;
    if (c->rec.state.exit_code == 0) c->rec.state.exit_code = 255;
    c->rec.state.finished_at = NowRfc3339Nano();
  }
  FinalizeLocked(*c);
  TRY(Save(*c));
  const auto& p = c->rec.config.restart.name;
  if (p == "always" || (p == "unless-stopped" && !c->rec.state.manually_stopped)) {
    return StartLocked(*c, lock);
  }
  if (c->rec.config.auto_remove) return RemoveLocked(*c, lock, true);
  return {};
}

}  // namespace moor::engine
