// spec and features.
#include <nlohmann/json.hpp>

#include "oci/capability_names.h"
#include "runtime/ops.h"
#include "runtime/seccomp/default_profile.h"

namespace moor::runtime {

using nlohmann::json;

namespace {

json SeccompJson(const oci::Seccomp& s) {
  json j = {{"defaultAction", s.default_action}, {"architectures", s.architectures}};
  if (s.default_errno_ret) j["defaultErrnoRet"] = *s.default_errno_ret;
  if (!s.flags.empty()) j["flags"] = s.flags;
  json calls = json::array();
  for (const auto& c : s.syscalls) {
    json e = {{"names", c.names}, {"action", c.action}};
    if (c.errno_ret) e["errnoRet"] = *c.errno_ret;
    if (!c.args.empty()) {
      json args = json::array();
      for (const auto& a : c.args)
        args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      e["args"] = args;
    }
    calls.push_back(e);
  }
  j["syscalls"] = calls;
  return j;
}

}  // namespace

std::string DefaultSpecJson(bool rootless) {
  json caps = json::array();
  std::vector<std::string> cap_names;
  for (auto c : oci::DefaultCapabilities()) {
    caps.push_back(std::string(c));
    cap_names.emplace_back(c);
  }
  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
  json namespaces = json::array({{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                 {{"type", "mount"}}, {{"type", "cgroup"}}});
  json spec = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "moor"},
      {"mounts", mounts},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces", namespaces},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
        {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
        {"seccomp", SeccompJson(seccomp::DefaultProfile(cap_names))}}},
  };
  if (rootless) {
    spec["linux"]["namespaces"].push_back({{"type", "user"}});
    spec["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    spec["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    spec["linux"].erase("resources");
  }
  return spec.dump(2) + "\n";
}

std::string FeaturesJson() {
  json caps = json::array();
  for (int i = 0; i <= oci::LastKnownCapability(); ++i) caps.push_back(oci::CapabilityName(i));
  json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async",   "atime",  "bind",    "defaults", "dev",      "diratime",   "dirsync",   "exec",    "lazytime",
        "mand",    "noatime", "nodev",  "nodiratime", "noexec", "nolazytime", "nomand",    "norelatime", "nostrictatime",
        "nosuid",  "private", "rbind",  "relatime", "remount",  "ro",         "rprivate",  "rshared", "rslave",
        "runbindable", "rw", "shared",  "slave",    "strictatime", "suid",    "sync",      "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{"io.github.moor.runtime.version", "0.1.0"}}},
  };
  return f.dump(2);
}

}  // namespace moor::runtime
