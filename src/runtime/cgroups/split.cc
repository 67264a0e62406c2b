#include "runtime/cgroups/split.h"

#include "runtime/cgroups/checks.h"

namespace moor::runtime::cgroups {

std::set<std::string> UnifiedOnlyControllers(const Layout& layout) {
  std::set<std::string> out;
  for (const std::string& c : layout.unified_controllers) {
    std::string v1_name = c == "io" ? "blkio" : c;
    if (!layout.HasV1(v1_name)) out.insert(v1_name);
  }
  return out;
}

SplitResources SplitForHybrid(const oci::Resources& r, const std::set<std::string>& unified_only) {
  SplitResources out;
  auto side = [&](const char* controller) -> oci::Resources& {
    return unified_only.count(controller) ? out.v2 : out.v1;
  };
  out.v1.devices = r.devices;
  if (r.memory) side("memory").memory = r.memory;
  if (r.cpu) {
    oci::CpuResources cpu = *r.cpu, cpuset;
    cpuset.cpus = std::move(cpu.cpus);
    cpuset.mems = std::move(cpu.mems);
    cpu.cpus.clear();
    cpu.mems.clear();
    oci::Resources& cpu_side = side("cpu");
    oci::Resources& cpuset_side = side("cpuset");
    if (&cpu_side == &cpuset_side) {
      cpu_side.cpu = *r.cpu;
    } else {
      cpu_side.cpu = std::move(cpu);
      cpuset_side.cpu = std::move(cpuset);
    }
  }
  if (r.pids) side("pids").pids = r.pids;
  if (r.block_io) side("blkio").block_io = r.block_io;
  side("hugetlb").hugepage_limits = r.hugepage_limits;
  for (const auto& [key, value] : r.unified) {
    auto controller = UnifiedKeyController(key);
    bool to_v2 = !controller || *controller == "cgroup" ||
                 unified_only.count(*controller == "io" ? std::string("blkio") : *controller);
    (to_v2 ? out.v2 : out.v1).unified.emplace(key, value);
  }
  return out;
}

}  // namespace moor::runtime::cgroups
