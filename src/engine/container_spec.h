// ContainerConfig + image config + where things are → the OCI runtime spec
// written into the container's bundle at every start. Pure (no syscalls
// apart from the user lookup inside the mounted rootfs, via
// image::SpecForImage).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "engine/container_config.h"
#include "image/core/manifest.h"
#include "oci/spec.h"

namespace moor::engine {

struct SpecContext {
  std::string id;
  std::string rootfs;  // mounted overlay (host path)
  // Network: path of the pinned netns to join ("" with host network or none —
  // none gets a new empty one). With host network the host's /etc/resolv.conf
  // and /etc/hosts are used.
  std::string netns_path;
  bool host_network = false;
  // Files the engine generated for this container, bind-mounted read-only
  // unless empty: /etc/hosts, /etc/resolv.conf, /etc/hostname.
  std::string hosts_file, resolv_file, hostname_file;
  // Host paths resolved for each config.mounts entry of type volume (same
  // order; "" for other types).
  std::vector<std::string> volume_paths;
  std::string cgroup_path;  // e.g. "/moor/ID" (cgroupfs path under each hierarchy)
  // --init: host path of moor-init, bind-mounted read-only at /sbin/moor-init
  // and made the process's argv[0] (followed by "--" and the command).
  std::string init_path;
};

// Docker semantics for mounts (bind ro/rw/propagation, tmpfs size/mode,
// volumes), resources (memory, swap, cpus → quota/period 100000, shares,
// cpuset, pids, blkio weight, oom_kill_disable), read-only rootfs, env,
// user, working dir, tty; hostname defaults to the first 12 chars of id.
Result<oci::Spec> BuildContainerSpec(const ContainerConfig& c, const image::ImageConfig& img,
                                     const SpecContext& ctx);

// Signal to stop with: the config's, else the image's STOPSIGNAL, else SIGTERM.
Result<int> StopSignal(const ContainerConfig& c, const image::ImageConfig& img);

}  // namespace moor::engine
