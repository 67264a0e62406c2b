// The container's filesystem view as data: what the child mounts, creates
// and masks. Built in the parent from the spec (pure, unit-tested); executed
// by rootfs_setup.cc in the child's new mount namespace.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/mount_options.h"

namespace moor::runtime {

struct PlannedMount {
  std::string destination;  // inside the container
  std::string type;         // "bind", "proc", "tmpfs", "cgroup", …
  std::string source;       // host path for binds (absolute), fs source otherwise
  MountOptions options;
};

// One cgroup hierarchy as the container should see it under its cgroup mount.
struct CgroupView {
  std::string name;      // directory under the mount ("memory", "cpu,cpuacct", "unified")
  std::string host_dir;  // the container's cgroup directory on the host
};

struct DevicePlan {
  std::string path;  // "/dev/null"
  char type = 'c';   // c b u p
  int64_t major = 0;
  int64_t minor = 0;
  uint32_t mode = 0666;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct RootfsPlan {
  std::string rootfs;  // absolute host path
  bool readonly = false;
  unsigned long root_propagation = 0;  // for "/" before setup (MS_SLAVE|MS_REC by default)
  unsigned long final_propagation = 0;  // rootfsPropagation after pivot (0: leave)
  std::vector<PlannedMount> mounts;
  std::vector<CgroupView> cgroups;     // for mounts of type "cgroup"
  bool dev_is_bind = false;            // /dev comes from the host: create no devices
  std::vector<DevicePlan> devices;     // defaults + linux.devices
  bool bind_devices = false;           // user namespace: bind host nodes, no mknod
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string cwd;  // process.cwd: created (as root, inside the rootfs) when missing
  bool no_pivot = false;
};

// The devices every container gets (null zero full random urandom tty), as in
// runc and Docker.
std::vector<DevicePlan> DefaultDevices();

// Device cgroup rules the container needs for its own /dev: every planned
// device node, the pty devices (pts, ptmx, console), appended after the
// config's rules as runc does, so a "deny all" config still gets a working
// /dev.
std::vector<oci::DeviceCgroupRule> RequiredDeviceRules(const RootfsPlan& plan);

// REQUIRES: spec validated. `bundle` is the absolute bundle directory.
Result<RootfsPlan> PlanRootfs(const oci::Spec& spec, const std::string& bundle,
                              std::vector<CgroupView> cgroups, bool no_pivot);

}  // namespace moor::runtime
