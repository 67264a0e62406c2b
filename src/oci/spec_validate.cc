// Semantic checks of a parsed Spec that need no host access.
#include <array>
#include <set>

#include "common/strings.h"
#include "oci/capability_names.h"
#include "oci/spec.h"

namespace moor::oci {
namespace {

constexpr std::array<std::string_view, 8> kNamespaceTypes = {"pid", "network", "mount", "ipc",
                                                             "uts", "user",    "cgroup", "time"};
constexpr std::array<std::string_view, 16> kRlimits = {
    "RLIMIT_CPU",    "RLIMIT_FSIZE",   "RLIMIT_DATA",   "RLIMIT_STACK",      "RLIMIT_CORE",   "RLIMIT_RSS",
    "RLIMIT_NPROC",  "RLIMIT_NOFILE",  "RLIMIT_MEMLOCK", "RLIMIT_AS",        "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

bool IsAbsolute(std::string_view p) { return !p.empty() && p.front() == '/'; }

bool HasDotDot(std::string_view p) {
  for (const auto& part : Split(p, '/'))
    if (part == "..") return true;
  return false;
}

std::unexpected<Error> Bad(std::string_view field, std::string_view what) {
  return FailInvalid(std::string(field) + ": " + std::string(what));
}

Result<void> ValidateCapList(std::string_view field, const std::vector<std::string>& caps) {
  for (size_t i = 0; i < caps.size(); ++i)
    if (!CapabilityFromName(caps[i]))
      return Bad(std::string(field) + "[" + std::to_string(i) + "]",
                 "unknown capability \"" + caps[i] + "\" (expected a name like CAP_NET_BIND_SERVICE)");
  return {};
}

// Which namespace a sysctl needs, or empty when it is not namespaced (refused).
std::string_view SysctlNamespace(std::string_view key) {
  static const std::set<std::string_view> kIpc = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                                   "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                                   "kernel.shmmni", "kernel.shm_rmid_forced"};
  if (kIpc.count(key) || StartsWith(key, "fs.mqueue.")) return "ipc";
  if (StartsWith(key, "net.")) return "network";
  if (key == "kernel.hostname" || key == "kernel.domainname") return "uts";
  return {};
}

Result<void> ValidateSysctl(const Spec& spec) {
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string field = "linux.sysctl." + key;
    if (key.empty() || key.find('/') != std::string::npos || HasDotDot(key) || key.find("..") != std::string::npos)
      return Bad(field, "invalid sysctl name");
    if (value.find_first_of("+=\n\r") != std::string::npos)
      return Bad(field, "value must not contain '+', '=' or a newline");
    std::string_view ns = SysctlNamespace(key);
    if (ns.empty())
      return Bad(field, "not a namespaced sysctl; only kernel.msg*/sem/shm*, fs.mqueue.*, net.* and "
                        "kernel.hostname/domainname may be set in a container");
    const Namespace* n = spec.FindNamespace(ns);
    if (!n || !n->path.empty()) {
      // Joining an existing namespace by path is allowed for net (CNI sets it up);
      // a missing namespace would change the host's value.
      if (!n) return Bad(field, "needs a new " + std::string(ns) + " namespace; add it to linux.namespaces");
    }
  }
  return {};
}

}  // namespace

Result<void> ValidateProcess(const Process& p, std::string_view field) {
  std::string f(field);
  if (p.args.empty()) return Bad(f + ".args", "must name the program to run");
  if (!IsAbsolute(p.cwd)) return Bad(f + ".cwd", "must be an absolute path inside the container, got \"" + p.cwd + "\"");
  if (StartsWith(p.cwd, "/proc/self/fd") || StartsWith(p.cwd, "/proc/thread-self/fd"))
    return Bad(f + ".cwd", "must not point into /proc/self/fd (would leak host file descriptors)");
  for (size_t i = 0; i < p.env.size(); ++i)
    if (p.env[i].find('=') == std::string::npos || p.env[i].front() == '=')
      return Bad(f + ".env[" + std::to_string(i) + "]", "expected NAME=VALUE, got \"" + p.env[i] + "\"");
  if (p.capabilities) {
    TRY(ValidateCapList(f + ".capabilities.bounding", p.capabilities->bounding));
    TRY(ValidateCapList(f + ".capabilities.effective", p.capabilities->effective));
    TRY(ValidateCapList(f + ".capabilities.inheritable", p.capabilities->inheritable));
    TRY(ValidateCapList(f + ".capabilities.permitted", p.capabilities->permitted));
    TRY(ValidateCapList(f + ".capabilities.ambient", p.capabilities->ambient));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < p.rlimits.size(); ++i) {
    const auto& r = p.rlimits[i];
    std::string rf = f + ".rlimits[" + std::to_string(i) + "]";
    bool known = false;
    for (auto k : kRlimits) known |= (k == r.type);
    if (!known) return Bad(rf + ".type", "unknown rlimit \"" + r.type + "\" (expected e.g. RLIMIT_NOFILE)");
    if (!seen.insert(r.type).second) return Bad(rf + ".type", r.type + " is given twice");
    if (r.soft > r.hard) return Bad(rf, "soft limit is above the hard limit");
  }
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    return Bad(f + ".oomScoreAdj", "must be between -1000 and 1000");
  if (p.user.umask && *p.user.umask > 0777) return Bad(f + ".user.umask", "must be at most 0777");
  return {};
}

Result<void> ValidateSpec(const Spec& spec) {
  if (spec.oci_version.empty()) return Bad("ociVersion", "is required (e.g. \"1.0.2\")");
  if (!StartsWith(spec.oci_version, "1.")) return Bad("ociVersion", "unsupported version \"" + spec.oci_version + "\"; moor-runtime implements 1.x");
  if (spec.root.path.empty()) return Bad("root.path", "is required");
  if (!spec.process) return Bad("process", "is required to create a container");
  TRY(ValidateProcess(*spec.process));

  std::set<std::string> ns_seen;
  for (size_t i = 0; i < spec.linux.namespaces.size(); ++i) {
    const auto& n = spec.linux.namespaces[i];
    std::string f = "linux.namespaces[" + std::to_string(i) + "]";
    bool known = false;
    for (auto t : kNamespaceTypes) known |= (t == n.type);
    if (!known) return Bad(f + ".type", "unknown namespace type \"" + n.type + "\"");
    if (!ns_seen.insert(n.type).second) return Bad(f + ".type", "namespace \"" + n.type + "\" is listed twice");
    if (!n.path.empty() && !IsAbsolute(n.path)) return Bad(f + ".path", "must be an absolute path");
  }
  const Namespace* user = spec.FindNamespace("user");
  bool has_maps = !spec.linux.uid_mappings.empty() || !spec.linux.gid_mappings.empty();
  if (user && user->path.empty() && (spec.linux.uid_mappings.empty() || spec.linux.gid_mappings.empty()))
    return Bad("linux.uidMappings", "a new user namespace needs both uidMappings and gidMappings");
  if (!user && has_maps) return Bad("linux.uidMappings", "id mappings need a user namespace in linux.namespaces");
  if (user && !user->path.empty() && has_maps)
    return Bad("linux.uidMappings", "must be empty when joining an existing user namespace");
  for (const auto* maps : {&spec.linux.uid_mappings, &spec.linux.gid_mappings})
    for (const auto& m : *maps)
      if (m.size == 0) return Bad(maps == &spec.linux.uid_mappings ? "linux.uidMappings" : "linux.gidMappings", "size must be positive");

  if (!spec.hostname.empty() && !spec.FindNamespace("uts"))
    return Bad("hostname", "setting a hostname needs a new uts namespace");
  if (!spec.domainname.empty() && !spec.FindNamespace("uts"))
    return Bad("domainname", "setting a domainname needs a new uts namespace");

  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    std::string f = "mounts[" + std::to_string(i) + "]";
    if (!IsAbsolute(m.destination)) return Bad(f + ".destination", "must be an absolute path, got \"" + m.destination + "\"");
    if (HasDotDot(m.destination)) return Bad(f + ".destination", "must not contain \"..\"");
  }
  for (size_t i = 0; i < spec.linux.devices.size(); ++i) {
    const auto& d = spec.linux.devices[i];
    std::string f = "linux.devices[" + std::to_string(i) + "]";
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      return Bad(f + ".type", "must be one of c, b, u, p");
    if (!IsAbsolute(d.path) || HasDotDot(d.path)) return Bad(f + ".path", "must be an absolute path without \"..\"");
  }
  for (const auto* list : {&spec.linux.masked_paths, &spec.linux.readonly_paths})
    for (const auto& p : *list)
      if (!IsAbsolute(p) || HasDotDot(p))
        return Bad(list == &spec.linux.masked_paths ? "linux.maskedPaths" : "linux.readonlyPaths",
                   "\"" + p + "\" must be an absolute path without \"..\"");
  if (HasDotDot(spec.linux.cgroups_path)) return Bad("linux.cgroupsPath", "must not contain \"..\"");
  const auto& prop = spec.linux.rootfs_propagation;
  if (!prop.empty() && prop != "private" && prop != "rprivate" && prop != "slave" && prop != "rslave" &&
      prop != "shared" && prop != "rshared" && prop != "unbindable" && prop != "runbindable")
    return Bad("linux.rootfsPropagation", "must be one of [r]private, [r]slave, [r]shared, [r]unbindable");
  TRY(ValidateSysctl(spec));
  const Hooks& h = spec.hooks;
  for (const auto* list : {&h.prestart, &h.create_runtime, &h.create_container, &h.start_container, &h.poststart, &h.poststop})
    for (const auto& hook : *list)
      if (!IsAbsolute(hook.path)) return Bad("hooks", "hook path \"" + hook.path + "\" must be absolute");
  return {};
}

}  // namespace moor::oci
