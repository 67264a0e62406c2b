// CgroupManager over the unified (cgroup v2) hierarchy: one directory.
#pragma once

#include <set>

#include "runtime/cgroups/manager.h"
#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {

class CgroupV2Manager final : public CgroupManager {
 public:
  // REQUIRES: paths.unified is set (ResolvePaths output); paths.v1 is ignored.
  // `controllers` (v2 names) are the ones this manager may enable and use: all
  // of layout.unified_controllers on a v2 host, the unified-only ones on a
  // hybrid host.
  CgroupV2Manager(Layout layout, CgroupPaths paths, std::set<std::string> controllers, ManagerOptions options);

  Result<void> Validate(const oci::Resources& r) const override;
  Result<void> Create() override;
  Result<void> Apply(const oci::Resources& r) override;
  Result<void> AddProcess(pid_t pid) override;
  Result<void> Freeze() override;
  Result<void> Thaw() override;
  Result<FreezerState> GetFreezerState() const override;
  Result<std::vector<pid_t>> Pids() const override;
  Result<void> KillAll(int signal) override;
  Result<CgroupStats> Stats() const override;
  Result<void> Destroy() override;
  bool SupportsDeviceRules() const override { return false; }
  CgroupPaths Paths() const override { return paths_; }

 private:
  std::string File(std::string_view name) const { return paths_.unified + "/" + std::string(name); }
  Result<V2State> ProbeState(bool live) const;
  Result<void> EnableControllers() const;
  Result<void> SetFrozen(bool frozen);

  Layout layout_;
  CgroupPaths paths_;
  std::set<std::string> controllers_;
  ManagerOptions options_;
};

}  // namespace moor::runtime::cgroups
