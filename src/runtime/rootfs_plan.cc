#include "runtime/rootfs_plan.h"

#include <sys/mount.h>

namespace moor::runtime {

std::vector<DevicePlan> DefaultDevices() {
  return {
      {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
      {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
      {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
  };
}

std::vector<oci::DeviceCgroupRule> RequiredDeviceRules(const RootfsPlan& plan) {
  std::vector<oci::DeviceCgroupRule> rules;
  for (const auto& d : plan.devices) {
    if (d.type == 'p') continue;
    rules.push_back({true, std::string(1, d.type == 'u' ? 'c' : d.type), d.major, d.minor, "rwm"});
  }
  rules.push_back({true, "c", std::nullopt, std::nullopt, "m"});  // mknod of any node (CAP_MKNOD decides)
  rules.push_back({true, "b", std::nullopt, std::nullopt, "m"});
  rules.push_back({true, "c", 136, std::nullopt, "rwm"});  // /dev/pts/* (and /dev/console, a pts)
  rules.push_back({true, "c", 5, 2, "rwm"});               // /dev/ptmx
  rules.push_back({true, "c", 10, 200, "rwm"});            // /dev/net/tun
  return rules;
}

static std::string Absolute(const std::string& base, const std::string& p) {
  if (!p.empty() && p.front() == '/') return p;
  return base + "/" + p;
}

Result<RootfsPlan> PlanRootfs(const oci::Spec& spec, const std::string& bundle, std::vector<CgroupView> cgroups,
                              bool no_pivot) {
  RootfsPlan plan;
  plan.rootfs = Absolute(bundle, spec.root.path);
  plan.readonly = spec.root.readonly;
  plan.no_pivot = no_pivot;
  plan.final_propagation = PropagationFromString(spec.linux.rootfs_propagation);
  // "/" must not propagate our mounts back to the host; shared rootfs
  // propagation needs the host side to stay shared, so only then keep it.
  plan.root_propagation = (plan.final_propagation & MS_SHARED) ? (MS_SHARED | MS_REC) : (MS_SLAVE | MS_REC);
  plan.cgroups = std::move(cgroups);
  const oci::Namespace* user = spec.FindNamespace("user");
  plan.bind_devices = user != nullptr;

  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    PlannedMount pm;
    pm.destination = m.destination;
    pm.type = m.type;
    auto opts = ParseMountOptions(m.options);
    if (!opts) return Fail(std::move(opts.error()).Wrap("mounts[" + std::to_string(i) + "].options"));
    pm.options = std::move(*opts);
    if (pm.type == "bind") pm.options.bind = true;
    if (pm.options.bind) {
      pm.type = "bind";
      if (m.source.empty()) return FailInvalid("mounts[" + std::to_string(i) + "].source: a bind mount needs a source");
      pm.source = Absolute(bundle, m.source);
      if (m.destination == "/dev") plan.dev_is_bind = true;
    } else {
      if (pm.type.empty()) return FailInvalid("mounts[" + std::to_string(i) + "].type: is required (e.g. \"tmpfs\")");
      pm.source = m.source.empty() ? pm.type : m.source;
    }
    plan.mounts.push_back(std::move(pm));
  }

  if (!plan.dev_is_bind) {
    plan.devices = DefaultDevices();
    for (const auto& d : spec.linux.devices) {
      DevicePlan dp{d.path, d.type.empty() ? 'c' : d.type[0], d.major, d.minor, d.file_mode.value_or(0666),
                    d.uid.value_or(0), d.gid.value_or(0)};
      bool replaced = false;
      for (auto& existing : plan.devices)
        if (existing.path == dp.path) {
          existing = dp;
          replaced = true;
        }
      if (!replaced) plan.devices.push_back(dp);
    }
  }
  plan.cwd = spec.process ? spec.process->cwd : "";
  plan.masked_paths = spec.linux.masked_paths;
  plan.readonly_paths = spec.linux.readonly_paths;
  return plan;
}

}  // namespace moor::runtime
