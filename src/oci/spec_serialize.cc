#include "oci/spec_serialize.h"

#include <nlohmann/json.hpp>

namespace moor::oci {

namespace {

using nlohmann::json;

template <class T>
void PutOpt(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}
void PutStr(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
void PutStrings(json& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}

json UserJson(const oci::User& u) {
  json j = {{"uid", u.uid}, {"gid", u.gid}};
  PutOpt(j, "umask", u.umask);
  if (!u.additional_gids.empty()) j["additionalGids"] = u.additional_gids;
  return j;
}

json ProcessJson(const oci::Process& p) {
  json j = {{"terminal", p.terminal}, {"user", UserJson(p.user)}, {"cwd", p.cwd}};
  if (p.console_size)
    j["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  PutStrings(j, "args", p.args);
  PutStrings(j, "env", p.env);
  if (p.capabilities) {
    json c = json::object();
    PutStrings(c, "bounding", p.capabilities->bounding);
    PutStrings(c, "effective", p.capabilities->effective);
    PutStrings(c, "inheritable", p.capabilities->inheritable);
    PutStrings(c, "permitted", p.capabilities->permitted);
    PutStrings(c, "ambient", p.capabilities->ambient);
    j["capabilities"] = c;
  }
  if (!p.rlimits.empty()) {
    json r = json::array();
    for (const auto& l : p.rlimits) r.push_back({{"type", l.type}, {"hard", l.hard}, {"soft", l.soft}});
    j["rlimits"] = r;
  }
  if (p.no_new_privileges) j["noNewPrivileges"] = true;
  PutStr(j, "apparmorProfile", p.apparmor_profile);
  PutOpt(j, "oomScoreAdj", p.oom_score_adj);
  PutStr(j, "selinuxLabel", p.selinux_label);
  return j;
}

json HooksJson(const std::vector<oci::Hook>& hooks) {
  json a = json::array();
  for (const auto& h : hooks) {
    json j = {{"path", h.path}};
    PutStrings(j, "args", h.args);
    PutStrings(j, "env", h.env);
    PutOpt(j, "timeout", h.timeout);
    a.push_back(j);
  }
  return a;
}

json ThrottleJson(const std::vector<oci::ThrottleDevice>& v) {
  json a = json::array();
  for (const auto& t : v) a.push_back({{"major", t.major}, {"minor", t.minor}, {"rate", t.rate}});
  return a;
}

json ResourcesJson(const oci::Resources& r) {
  json j = json::object();
  if (!r.devices.empty()) {
    json a = json::array();
    for (const auto& d : r.devices) {
      json e = {{"allow", d.allow}};
      PutStr(e, "type", d.type);
      PutOpt(e, "major", d.major);
      PutOpt(e, "minor", d.minor);
      PutStr(e, "access", d.access);
      a.push_back(e);
    }
    j["devices"] = a;
  }
  if (const auto& m = r.memory) {
    json e = json::object();
    PutOpt(e, "limit", m->limit);
    PutOpt(e, "reservation", m->reservation);
    PutOpt(e, "swap", m->swap);
    PutOpt(e, "kernel", m->kernel);
    PutOpt(e, "kernelTCP", m->kernel_tcp);
    PutOpt(e, "swappiness", m->swappiness);
    PutOpt(e, "disableOOMKiller", m->disable_oom_killer);
    PutOpt(e, "useHierarchy", m->use_hierarchy);
    PutOpt(e, "checkBeforeUpdate", m->check_before_update);
    j["memory"] = e;
  }
  if (const auto& c = r.cpu) {
    json e = json::object();
    PutOpt(e, "shares", c->shares);
    PutOpt(e, "quota", c->quota);
    PutOpt(e, "period", c->period);
    PutOpt(e, "realtimeRuntime", c->realtime_runtime);
    PutOpt(e, "realtimePeriod", c->realtime_period);
    PutStr(e, "cpus", c->cpus);
    PutStr(e, "mems", c->mems);
    PutOpt(e, "idle", c->idle);
    j["cpu"] = e;
  }
  if (r.pids) j["pids"] = {{"limit", r.pids->limit}};
  if (const auto& b = r.block_io) {
    json e = json::object();
    PutOpt(e, "weight", b->weight);
    PutOpt(e, "leafWeight", b->leaf_weight);
    if (!b->weight_device.empty()) {
      json a = json::array();
      for (const auto& w : b->weight_device) {
        json d = {{"major", w.major}, {"minor", w.minor}};
        PutOpt(d, "weight", w.weight);
        PutOpt(d, "leafWeight", w.leaf_weight);
        a.push_back(d);
      }
      e["weightDevice"] = a;
    }
    if (!b->throttle_read_bps_device.empty())
      e["throttleReadBpsDevice"] = ThrottleJson(b->throttle_read_bps_device);
    if (!b->throttle_write_bps_device.empty())
      e["throttleWriteBpsDevice"] = ThrottleJson(b->throttle_write_bps_device);
    if (!b->throttle_read_iops_device.empty())
      e["throttleReadIOPSDevice"] = ThrottleJson(b->throttle_read_iops_device);
    if (!b->throttle_write_iops_device.empty())
      e["throttleWriteIOPSDevice"] = ThrottleJson(b->throttle_write_iops_device);
    j["blockIO"] = e;
  }
  if (!r.hugepage_limits.empty()) {
    json a = json::array();
    for (const auto& h : r.hugepage_limits) a.push_back({{"pageSize", h.page_size}, {"limit", h.limit}});
    j["hugepageLimits"] = a;
  }
  if (!r.unified.empty()) j["unified"] = r.unified;
  return j;
}

json SeccompJson(const oci::Seccomp& s) {
  json j = {{"defaultAction", s.default_action}};
  PutOpt(j, "defaultErrnoRet", s.default_errno_ret);
  PutStrings(j, "architectures", s.architectures);
  PutStrings(j, "flags", s.flags);
  PutStr(j, "listenerPath", s.listener_path);
  if (!s.syscalls.empty()) {
    json a = json::array();
    for (const auto& c : s.syscalls) {
      json e = {{"names", c.names}, {"action", c.action}};
      PutOpt(e, "errnoRet", c.errno_ret);
      if (!c.args.empty()) {
        json args = json::array();
        for (const auto& x : c.args)
          args.push_back({{"index", x.index}, {"value", x.value}, {"valueTwo", x.value_two}, {"op", x.op}});
        e["args"] = args;
      }
      a.push_back(e);
    }
    j["syscalls"] = a;
  }
  return j;
}

json IdMapJson(const std::vector<oci::IdMapping>& v) {
  json a = json::array();
  for (const auto& m : v)
    a.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  return a;
}

json LinuxJson(const oci::Linux& l) {
  json j = json::object();
  if (!l.namespaces.empty()) {
    json a = json::array();
    for (const auto& n : l.namespaces) {
      json e = {{"type", n.type}};
      PutStr(e, "path", n.path);
      a.push_back(e);
    }
    j["namespaces"] = a;
  }
  if (!l.uid_mappings.empty()) j["uidMappings"] = IdMapJson(l.uid_mappings);
  if (!l.gid_mappings.empty()) j["gidMappings"] = IdMapJson(l.gid_mappings);
  if (!l.devices.empty()) {
    json a = json::array();
    for (const auto& d : l.devices) {
      json e = {{"type", d.type}, {"path", d.path}, {"major", d.major}, {"minor", d.minor}};
      PutOpt(e, "fileMode", d.file_mode);
      PutOpt(e, "uid", d.uid);
      PutOpt(e, "gid", d.gid);
      a.push_back(e);
    }
    j["devices"] = a;
  }
  PutStr(j, "cgroupsPath", l.cgroups_path);
  if (l.resources) j["resources"] = ResourcesJson(*l.resources);
  if (!l.sysctl.empty()) j["sysctl"] = l.sysctl;
  if (l.seccomp) j["seccomp"] = SeccompJson(*l.seccomp);
  PutStr(j, "rootfsPropagation", l.rootfs_propagation);
  PutStrings(j, "maskedPaths", l.masked_paths);
  PutStrings(j, "readonlyPaths", l.readonly_paths);
  PutStr(j, "mountLabel", l.mount_label);
  return j;
}

}  // namespace

std::string SpecToJson(const Spec& s) {
  json j = {{"ociVersion", s.oci_version.empty() ? std::string("1.0.2") : s.oci_version}};
  if (s.process) j["process"] = ProcessJson(*s.process);
  j["root"] = {{"path", s.root.path}};
  if (s.root.readonly) j["root"]["readonly"] = true;
  PutStr(j, "hostname", s.hostname);
  PutStr(j, "domainname", s.domainname);
  json mounts = json::array();
  for (const auto& m : s.mounts) {
    json e = {{"destination", m.destination}};
    PutStr(e, "type", m.type);
    PutStr(e, "source", m.source);
    PutStrings(e, "options", m.options);
    mounts.push_back(e);
  }
  j["mounts"] = mounts;
  json hooks = json::object();
  auto put_hooks = [&](const char* key, const std::vector<oci::Hook>& v) {
    if (!v.empty()) hooks[key] = HooksJson(v);
  };
  put_hooks("prestart", s.hooks.prestart);
  put_hooks("createRuntime", s.hooks.create_runtime);
  put_hooks("createContainer", s.hooks.create_container);
  put_hooks("startContainer", s.hooks.start_container);
  put_hooks("poststart", s.hooks.poststart);
  put_hooks("poststop", s.hooks.poststop);
  if (!hooks.empty()) j["hooks"] = hooks;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  j["linux"] = LinuxJson(s.linux);
  // Invalid UTF-8 in a string (a path from the user) must not throw.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace moor::oci
