#include "runtime/cgroups/hybrid_manager.h"

#include "runtime/cgroups/split.h"

namespace moor::runtime::cgroups {

CgroupHybridManager::CgroupHybridManager(std::unique_ptr<CgroupV1Manager> v1, std::unique_ptr<CgroupV2Manager> v2,
                                         std::set<std::string> unified_only)
    : v1_(std::move(v1)), v2_(std::move(v2)), unified_only_(std::move(unified_only)) {}

Result<void> CgroupHybridManager::Validate(const oci::Resources& r) const {
  SplitResources parts = SplitForHybrid(r, unified_only_);
  TRY(v1_->Validate(parts.v1));
  return v2_->Validate(parts.v2);
}

Result<void> CgroupHybridManager::Create() {
  TRY(v1_->Create());
  if (auto r = v2_->Create(); !r) {
    (void)v1_->Destroy();
    return r;
  }
  return {};
}

Result<void> CgroupHybridManager::Apply(const oci::Resources& r) {
  SplitResources parts = SplitForHybrid(r, unified_only_);
  // Check both halves before writing either, so bad input changes nothing.
  TRY(v1_->Validate(parts.v1));
  TRY(v2_->Validate(parts.v2));
  TRY(v1_->Apply(parts.v1));
  return v2_->Apply(parts.v2);
}

Result<void> CgroupHybridManager::AddProcess(pid_t pid) {
  TRY(v1_->AddProcess(pid));
  return v2_->AddProcess(pid);
}

CgroupManager& CgroupHybridManager::FreezerPart() const {
  if (v1_->Paths().v1.count("freezer")) return *v1_;
  return *v2_;
}

Result<void> CgroupHybridManager::Freeze() { return FreezerPart().Freeze(); }
Result<void> CgroupHybridManager::Thaw() { return FreezerPart().Thaw(); }
Result<FreezerState> CgroupHybridManager::GetFreezerState() const { return FreezerPart().GetFreezerState(); }

Result<CgroupStats> CgroupHybridManager::Stats() const {
  CgroupStats a = TRY(v1_->Stats());
  CgroupStats b = TRY(v2_->Stats());
  if (!a.memory_usage) a.memory_usage = b.memory_usage;
  if (!a.memory_limit && !a.memory_usage) a.memory_limit = b.memory_limit;
  if (!a.cpu_usage_ns) a.cpu_usage_ns = b.cpu_usage_ns;
  if (!a.pids_current) a.pids_current = b.pids_current;
  return a;
}

Result<void> CgroupHybridManager::Destroy() {
  Result<void> r1 = v1_->Destroy();
  Result<void> r2 = v2_->Destroy();
  return r1 ? r2 : r1;
}

CgroupPaths CgroupHybridManager::Paths() const {
  CgroupPaths p1 = v1_->Paths(), p2 = v2_->Paths();
  p1.unified = p2.unified;
  p1.created_ancestors.insert(p1.created_ancestors.end(), p2.created_ancestors.begin(), p2.created_ancestors.end());
  return p1;
}

}  // namespace moor::runtime::cgroups
