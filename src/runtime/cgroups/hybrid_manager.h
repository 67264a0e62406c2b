// CgroupManager for systemd hybrid hosts: v1 for every controller mounted on
// v1, the unified hierarchy for controllers only it offers (e.g. hugetlb).
// The process joins both, as runc does on such hosts.
#pragma once

#include <memory>
#include <set>

#include "runtime/cgroups/manager.h"
#include "runtime/cgroups/v1_manager.h"
#include "runtime/cgroups/v2_manager.h"

namespace moor::runtime::cgroups {

class CgroupHybridManager final : public CgroupManager {
 public:
  // `unified_only`: UnifiedOnlyControllers(layout) (v1 names), which decides
  // where each resource goes. Takes ownership of both parts.
  CgroupHybridManager(std::unique_ptr<CgroupV1Manager> v1, std::unique_ptr<CgroupV2Manager> v2,
                      std::set<std::string> unified_only);

  Result<void> Validate(const oci::Resources& r) const override;
  Result<void> Create() override;
  Result<void> Apply(const oci::Resources& r) override;
  Result<void> AddProcess(pid_t pid) override;
  Result<void> Freeze() override;
  Result<void> Thaw() override;
  Result<FreezerState> GetFreezerState() const override;
  Result<std::vector<pid_t>> Pids() const override { return v1_->Pids(); }
  Result<void> KillAll(int signal) override { return v1_->KillAll(signal); }
  Result<CgroupStats> Stats() const override;
  Result<void> Destroy() override;
  bool SupportsDeviceRules() const override { return v1_->SupportsDeviceRules(); }
  CgroupPaths Paths() const override;

 private:
  // The part that owns the freezer: v1 when mounted there, else cgroup.freeze.
  CgroupManager& FreezerPart() const;

  std::unique_ptr<CgroupV1Manager> v1_;
  std::unique_ptr<CgroupV2Manager> v2_;
  std::set<std::string> unified_only_;
};

}  // namespace moor::runtime::cgroups
