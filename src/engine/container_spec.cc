// ContainerConfig → OCI spec. image::SpecForImage gives Docker's process
// semantics (command, env, user, working dir, tty, hostname, host network);
// this file adds what only the engine knows: namespaces to join, mounts,
// generated /etc files, --init and cgroup resources.
#include "engine/container_spec.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <set>

#include "image/run/image_spec.h"
#include "runtime/ops.h"

namespace moor::engine {

namespace {

constexpr const char* kInitPath = "/sbin/moor-init";
constexpr uint64_t kCpuPeriodUs = 100'000;  // Docker's period for --cpus
constexpr int64_t kNanosPerPeriod = 1'000'000'000 / kCpuPeriodUs;

Result<void> SetNetworkNamespace(oci::Spec& spec, const ContainerConfig& c, const SpecContext& ctx,
                                 bool host_network) {
  if (host_network) return {};  // SpecForImage dropped the network and uts entries
  auto& nss = spec.linux.namespaces;
  auto it = std::find_if(nss.begin(), nss.end(), [](const oci::Namespace& n) { return n.type == "network"; });
  if (it == nss.end()) it = nss.insert(nss.end(), oci::Namespace{"network", ""});
  if (c.network_mode == "none") {
    it->path.clear();  // a new namespace with only loopback
    return {};
  }
  if (ctx.netns_path.empty())
    return FailInvalid("network mode " + c.network_mode +
                       " needs the container's network namespace, but none was set up");
  it->path = ctx.netns_path;
  return {};
}

std::vector<std::string> BindOptions(bool read_only, const std::string& propagation) {
  return {"rbind", read_only ? "ro" : "rw", propagation.empty() ? "rprivate" : propagation};
}

Result<oci::Mount> UserMount(const MountSpec& m, const std::string& volume_path) {
  if (m.type == "bind")
    return oci::Mount{m.target, "bind", m.source, BindOptions(m.read_only, m.propagation)};
  if (m.type == "volume") {
    if (volume_path.empty())
      return FailInvalid("mount " + m.target +
                         ": the volume has no host path (the engine did not resolve it)");
    return oci::Mount{m.target, "bind", volume_path, BindOptions(m.read_only, "")};
  }
  if (m.type == "tmpfs") {
    // nosuid,nodev always, as Docker's tmpfs mounts; exec unless asked.
    std::vector<std::string> opts = {"nosuid", "nodev"};
    if (m.tmpfs_noexec) opts.emplace_back("noexec");
    opts.emplace_back(m.read_only ? "ro" : "rw");
    char mode[24];
    snprintf(mode, sizeof mode, "mode=%o", m.tmpfs_mode ? m.tmpfs_mode : 01777);
    opts.emplace_back(mode);
    if (m.tmpfs_size > 0) opts.push_back("size=" + std::to_string(m.tmpfs_size));
    return oci::Mount{m.target, "tmpfs", "tmpfs", opts};
  }
  return FailInvalid("mount " + m.target + ": unknown type " + m.type);
}

size_t Depth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

// The user's mounts, the generated /etc files and moor-init, replacing
// default mounts at the same place (a tmpfs on /dev/shm, the host's
// /etc/hosts with host networking) and sorted parents first so a mount at
// /a/b is not hidden by a later one at /a.
Result<void> AddMounts(oci::Spec& spec, const ContainerConfig& c, const SpecContext& ctx) {
  std::vector<oci::Mount> added;
  std::set<std::string> targets;
  for (size_t i = 0; i < c.mounts.size(); ++i) {
    const std::string& vol = i < ctx.volume_paths.size() ? ctx.volume_paths[i] : std::string();
    added.push_back(TRY(UserMount(c.mounts[i], vol)));
    targets.insert(c.mounts[i].target);
  }
  // A user's own mount at one of these paths wins, as in Docker.
  for (const auto& [dest, source] :
       {std::pair{"/etc/hosts", &ctx.hosts_file}, std::pair{"/etc/resolv.conf", &ctx.resolv_file},
        std::pair{"/etc/hostname", &ctx.hostname_file}}) {
    if (source->empty() || targets.contains(dest)) continue;
    added.push_back({dest, "bind", *source, BindOptions(true, "")});
    targets.insert(dest);
  }
  if (c.init) {
    if (ctx.init_path.empty()) return FailInvalid("--init: the daemon found no moor-init binary to run");
    added.push_back({kInitPath, "bind", ctx.init_path, {"bind", "ro", "rprivate"}});
    targets.insert(kInitPath);
  }
  std::erase_if(spec.mounts, [&](const oci::Mount& m) { return targets.contains(m.destination); });
  std::stable_sort(added.begin(), added.end(), [](const oci::Mount& a, const oci::Mount& b) {
    return Depth(a.destination) < Depth(b.destination);
  });
  spec.mounts.insert(spec.mounts.end(), added.begin(), added.end());
  return {};
}

oci::Resources ApplyResources(oci::Resources res, const ResourceSpec& r) {
  if (r.memory > 0 || r.oom_kill_disable) {
    oci::MemoryResources m = res.memory.value_or(oci::MemoryResources{});
    if (r.memory > 0) {
      m.limit = r.memory;
      // Docker: MemorySwap counts memory + swap; 0 means twice the memory.
      m.swap = r.memory_swap == 0 ? 2 * r.memory : r.memory_swap;
    }
    if (r.oom_kill_disable) m.disable_oom_killer = true;
    res.memory = m;
  }
  if (r.nano_cpus > 0 || r.cpu_shares > 0 || !r.cpuset_cpus.empty()) {
    oci::CpuResources cpu = res.cpu.value_or(oci::CpuResources{});
    if (r.nano_cpus > 0) {
      cpu.period = kCpuPeriodUs;
      cpu.quota = r.nano_cpus / kNanosPerPeriod;
    }
    if (r.cpu_shares > 0) cpu.shares = static_cast<uint64_t>(r.cpu_shares);
    if (!r.cpuset_cpus.empty()) cpu.cpus = r.cpuset_cpus;
    res.cpu = cpu;
  }
  if (r.pids_limit > 0) res.pids = oci::PidsResources{r.pids_limit};
  if (r.blkio_weight > 0) {
    oci::BlockIoResources io = res.block_io.value_or(oci::BlockIoResources{});
    io.weight = static_cast<uint16_t>(r.blkio_weight);
    res.block_io = io;
  }
  return res;
}

}  // namespace

Result<oci::Spec> BuildContainerSpec(const ContainerConfig& c, const image::ImageConfig& img,
                                     const SpecContext& ctx) {
  const bool host_network = ctx.host_network || c.network_mode == "host";
  image::RunRequest req;
  req.id = ctx.id;
  req.rootfs = ctx.rootfs;
  req.args = c.cmd;
  req.entrypoint = c.entrypoint;
  req.env = c.env;
  req.user = c.user;
  req.workdir = c.working_dir;
  req.tty = c.tty;
  req.hostname = c.hostname;
  req.host_network = host_network;
  req.read_only_rootfs = c.read_only_rootfs;
  oci::Spec spec = TRY(image::SpecForImage(img, req));

  TRY(SetNetworkNamespace(spec, c, ctx, host_network));
  TRY(AddMounts(spec, c, ctx));
  if (c.init) {
    // moor-init ends its own options at "--", so the app's flags reach the app.
    std::vector<std::string>& args = spec.process->args;
    args.insert(args.begin(), {kInitPath, "--"});
  }
  spec.linux.resources = ApplyResources(spec.linux.resources.value_or(oci::Resources{}), c.resources);
  spec.linux.cgroups_path = ctx.cgroup_path;
  return spec;
}

Result<int> StopSignal(const ContainerConfig& c, const image::ImageConfig& img) {
  if (!c.stop_signal.empty()) return TRY_CTX(runtime::ParseSignal(c.stop_signal), "StopSignal");
  if (!img.config.stop_signal.empty())
    return TRY_CTX(runtime::ParseSignal(img.config.stop_signal), "the image's STOPSIGNAL");
  return SIGTERM;
}

}  // namespace moor::engine
