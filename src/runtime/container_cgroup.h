// The runtime's view of one container's cgroup: resolves linux.cgroupsPath
// once at create, records the directories in the state file, and rebuilds the
// same manager from them in later commands (delete, update, pause, ps).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/cgroups/manager.h"
#include "runtime/container_state.h"
#include "runtime/rootfs_plan.h"

namespace moor::runtime {

class ContainerCgroup {
 public:
  // For create: resolves cgroupsPath (empty → /moor/<id>; systemd
  // "slice:prefix:name" → its cgroupfs path). Creates nothing.
  static Result<std::unique_ptr<ContainerCgroup>> Resolve(const std::string& cgroups_path, const std::string& id);
  // For later commands: the directories recorded in the state.
  static Result<std::unique_ptr<ContainerCgroup>> FromState(const ContainerState& state);

  // Validates, creates the directories and applies `resources` (may be
  // null); on error nothing is left behind.
  Result<void> Create(const oci::Resources* resources);
  cgroups::CgroupManager& manager() { return *manager_; }
  // Stores the directories into `state`.
  void Record(ContainerState& state) const;
  Result<bool> Frozen() const;
  // How each hierarchy appears under a "cgroup" mount inside the container.
  std::vector<CgroupView> Views() const;

 private:
  ContainerCgroup(cgroups::Layout layout, std::unique_ptr<cgroups::CgroupManager> m)
      : layout_(std::move(layout)), manager_(std::move(m)) {}
  cgroups::Layout layout_;
  std::unique_ptr<cgroups::CgroupManager> manager_;
};

}  // namespace moor::runtime
