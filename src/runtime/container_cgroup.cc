#include "runtime/container_cgroup.h"

#include <set>

namespace moor::runtime {

Result<std::unique_ptr<ContainerCgroup>> ContainerCgroup::Resolve(const std::string& cgroups_path,
                                                                  const std::string& id) {
  cgroups::Layout layout = TRY_CTX(cgroups::ReadLayout(), "cgroup layout");
  auto m = TRY(cgroups::OpenCgroupManager(layout, cgroups_path, id));
  return std::unique_ptr<ContainerCgroup>(new ContainerCgroup(std::move(layout), std::move(m)));
}

Result<std::unique_ptr<ContainerCgroup>> ContainerCgroup::FromState(const ContainerState& state) {
  cgroups::Layout layout = TRY_CTX(cgroups::ReadLayout(), "cgroup layout");
  cgroups::CgroupPaths paths;
  paths.v1 = state.cgroup_v1;
  paths.unified = state.cgroup_unified;
  paths.created_ancestors = state.cgroup_ancestors;
  auto m = cgroups::NewCgroupManager(layout, paths);
  return std::unique_ptr<ContainerCgroup>(new ContainerCgroup(std::move(layout), std::move(m)));
}

Result<void> ContainerCgroup::Create(const oci::Resources* resources) {
  if (resources) return cgroups::CreateWithResources(*manager_, *resources);
  return manager_->Create();
}

void ContainerCgroup::Record(ContainerState& state) const {
  cgroups::CgroupPaths p = manager_->Paths();
  state.cgroup_v1 = p.v1;
  state.cgroup_unified = p.unified;
  state.cgroup_ancestors = p.created_ancestors;
}

Result<bool> ContainerCgroup::Frozen() const {
  auto st = TRY(manager_->GetFreezerState());
  return st != cgroups::FreezerState::kThawed;
}

std::vector<CgroupView> ContainerCgroup::Views() const {
  std::vector<CgroupView> out;
  cgroups::CgroupPaths p = manager_->Paths();
  if (layout_.mode == cgroups::Mode::kV2) {
    out.push_back({"", p.unified});
    return out;
  }
  std::set<std::string> seen;
  for (const auto& [controller, mount] : layout_.v1) {
    auto it = p.v1.find(controller);
    if (it == p.v1.end()) continue;
    std::string name = mount.mount_point.substr(mount.mount_point.rfind('/') + 1);
    if (seen.insert(name).second) out.push_back({name, it->second});
  }
  if (!p.unified.empty()) out.push_back({"unified", p.unified});
  return out;
}

}  // namespace moor::runtime
