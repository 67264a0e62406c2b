// OpenCgroupManager / NewCgroupManager / CreateWithResources.
#include "common/strings.h"
#include "runtime/cgroups/hybrid_manager.h"
#include "runtime/cgroups/manager.h"
#include "runtime/cgroups/split.h"
#include "runtime/cgroups/v1_manager.h"
#include "runtime/cgroups/v2_manager.h"

namespace moor::runtime::cgroups {

std::string_view FreezerStateName(FreezerState state) {
  switch (state) {
    case FreezerState::kThawed: return "THAWED";
    case FreezerState::kFreezing: return "FREEZING";
    case FreezerState::kFrozen: return "FROZEN";
  }
  return "?";
}

Result<std::unique_ptr<CgroupManager>> OpenCgroupManager(const Layout& layout, std::string_view cgroups_path,
                                                         std::string_view container_id,
                                                         const ManagerOptions& options) {
  std::string inner = TRY(ContainerCgroupPath(cgroups_path, container_id));
  ProcCgroups self;
  if (inner.front() != '/') self = TRY_CTX(ReadProcCgroup(), "resolve linux.cgroupsPath");
  CgroupPaths paths = TRY(ResolvePaths(layout, inner, self));
  return NewCgroupManager(layout, paths, options);
}

std::unique_ptr<CgroupManager> NewCgroupManager(const Layout& layout, const CgroupPaths& paths,
                                                const ManagerOptions& options) {
  switch (layout.mode) {
    case Mode::kV1:
      return std::make_unique<CgroupV1Manager>(layout, paths, options);
    case Mode::kV2: {
      std::set<std::string> all(layout.unified_controllers.begin(), layout.unified_controllers.end());
      return std::make_unique<CgroupV2Manager>(layout, paths, std::move(all), options);
    }
    case Mode::kHybrid:
      break;
  }
  // Each part gets the ancestors under its own mounts.
  CgroupPaths p1 = paths, p2 = paths;
  p1.created_ancestors.clear();
  p2.created_ancestors.clear();
  for (const std::string& a : paths.created_ancestors)
    (StartsWith(a, layout.unified.mount_point + "/") ? p2 : p1).created_ancestors.push_back(a);
  std::set<std::string> unified_only = UnifiedOnlyControllers(layout);
  std::set<std::string> v2_names;
  for (const std::string& c : unified_only) v2_names.insert(c == "blkio" ? "io" : c);
  return std::make_unique<CgroupHybridManager>(
      std::make_unique<CgroupV1Manager>(layout, std::move(p1), options),
      std::make_unique<CgroupV2Manager>(layout, std::move(p2), std::move(v2_names), options), std::move(unified_only));
}

Result<void> CreateWithResources(CgroupManager& manager, const oci::Resources& resources) {
  TRY(manager.Validate(resources));
  TRY(manager.Create());
  if (auto r = manager.Apply(resources); !r) {
    (void)manager.Destroy();
    return r;
  }
  return {};
}

}  // namespace moor::runtime::cgroups
