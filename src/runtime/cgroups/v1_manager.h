// CgroupManager over cgroup v1 hierarchies: one directory per mounted
// hierarchy (comounted controllers share one).
#pragma once

#include "runtime/cgroups/manager.h"
#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {

class CgroupV1Manager final : public CgroupManager {
 public:
  // REQUIRES: paths.v1 holds a directory for every controller of layout.v1 it
  // should manage (ResolvePaths output); paths.unified is ignored.
  CgroupV1Manager(Layout layout, CgroupPaths paths, ManagerOptions options);

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
  bool SupportsDeviceRules() const override { return Has("devices"); }
  CgroupPaths Paths() const override { return paths_; }

 private:
  bool Has(const std::string& controller) const { return paths_.v1.count(controller) != 0; }
  const std::string& Dir(const std::string& controller) const { return paths_.v1.at(controller); }
  // live: read the cgroup's own files; else only host facts (before Create).
  Result<V1State> ProbeState(bool live) const;
  Result<void> FillCpuset() const;
  Result<void> SetFreezer(std::string_view target);

  Layout layout_;
  CgroupPaths paths_;
  ManagerOptions options_;
};

}  // namespace moor::runtime::cgroups
