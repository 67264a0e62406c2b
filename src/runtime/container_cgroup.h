// The runtime's view of one container's cgroup: a thin layer over
// cgroups::CgroupManager that resolves linux.cgroupsPath once and can be
// reopened from the persisted path by later commands (delete, update, pause).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/rootfs_plan.h"

namespace moor::runtime {

struct CgroupStats {
  uint64_t memory_usage = 0;
  uint64_t memory_limit = 0;
  uint64_t cpu_usage_ns = 0;
  uint64_t pids = 0;
};

class ContainerCgroup {
 public:
  // Resolves the path (empty → /moor/<id>; systemd "slice:prefix:name" →
  // cgroupfs path). Creates nothing.
  static Result<std::unique_ptr<ContainerCgroup>> Open(const std::string& cgroups_path, const std::string& id,
                                                       bool systemd_style);
  virtual ~ContainerCgroup() = default;

  // The resolved cgroup path to persist (absolute, cgroupfs form).
  virtual const std::string& path() const = 0;
  // Creates the directories and applies `resources` (may be null). On error
  // nothing is left behind.
  virtual Result<void> Create(const oci::Resources* resources) = 0;
  virtual Result<void> Update(const oci::Resources& resources) = 0;
  virtual Result<void> AddProcess(pid_t pid) = 0;
  virtual Result<void> Freeze() = 0;
  virtual Result<void> Thaw() = 0;
  virtual Result<bool> Frozen() = 0;
  virtual Result<std::vector<pid_t>> Pids() = 0;
  virtual Result<void> KillAll(int signal) = 0;
  virtual Result<CgroupStats> Stats() = 0;
  // Removes every directory; missing ones are fine.
  virtual Result<void> Destroy() = 0;
  // How each hierarchy should appear under a "cgroup" mount in the container.
  virtual std::vector<CgroupView> Views() const = 0;
  // False when device rules cannot be enforced (cgroup v2 without eBPF).
  virtual bool SupportsDeviceRules() const = 0;
};

}  // namespace moor::runtime
