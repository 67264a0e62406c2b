// config.json → Spec. Every type error names the JSON path of the field.
#include <nlohmann/json.hpp>

#include "oci/spec.h"

namespace moor::oci {
namespace {

using nlohmann::json;

// A JSON object plus the path that led to it, for error messages.
class Obj {
 public:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string Field(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const json* Get(std::string_view key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Result<void> Str(std::string_view key, std::string& out) const {
    const json* v = Get(key);
    if (!v) return {};
    if (!v->is_string()) return Bad(key, "expected a string");
    out = v->get<std::string>();
    return {};
  }
  Result<void> Bool(std::string_view key, bool& out) const {
    const json* v = Get(key);
    if (!v) return {};
    if (!v->is_boolean()) return Bad(key, "expected true or false");
    out = v->get<bool>();
    return {};
  }
  template <class T>
  Result<void> Opt(std::string_view key, std::optional<T>& out) const {
    const json* v = Get(key);
    if (!v) return {};
    T tmp{};
    TRY(Convert(key, *v, tmp));
    out = tmp;
    return {};
  }
  template <class T>
  Result<void> Num(std::string_view key, T& out) const {
    const json* v = Get(key);
    if (!v) return {};
    return Convert(key, *v, out);
  }
  Result<void> Strings(std::string_view key, std::vector<std::string>& out) const {
    const json* v = Get(key);
    if (!v) return {};
    if (!v->is_array()) return Bad(key, "expected an array of strings");
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) return Bad(std::string(key) + "[" + std::to_string(i) + "]", "expected a string");
      out.push_back((*v)[i].get<std::string>());
    }
    return {};
  }
  Result<void> StringMap(std::string_view key, std::map<std::string, std::string>& out) const {
    const json* v = Get(key);
    if (!v) return {};
    if (!v->is_object()) return Bad(key, "expected an object of strings");
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it->is_string()) return Bad(std::string(key) + "." + it.key(), "expected a string");
      out[it.key()] = it->get<std::string>();
    }
    return {};
  }
  // Calls fn(Obj) for the object at key (if present).
  template <class Fn>
  Result<void> Child(std::string_view key, Fn&& fn) const {
    const json* v = Get(key);
    if (!v) return {};
    if (!v->is_object()) return Bad(key, "expected an object");
    return fn(Obj(*v, Field(key)));
  }
  // Calls fn(Obj) for each object of the array at key.
  template <class Fn>
  Result<void> Each(std::string_view key, Fn&& fn) const {
    const json* v = Get(key);
    if (!v) return {};
    if (!v->is_array()) return Bad(key, "expected an array");
    for (size_t i = 0; i < v->size(); ++i) {
      std::string p = Field(key) + "[" + std::to_string(i) + "]";
      if (!(*v)[i].is_object()) return FailInvalid(p + ": expected an object");
      TRY(fn(Obj((*v)[i], p)));
    }
    return {};
  }

  std::unexpected<Error> Bad(std::string_view key, std::string_view what) const {
    return FailInvalid(Field(key) + ": " + std::string(what));
  }

 private:
  template <class T>
  Result<void> Convert(std::string_view key, const json& v, T& out) const {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) return Bad(key, "expected true or false");
      out = v.get<bool>();
    } else if constexpr (std::is_unsigned_v<T>) {
      if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0))
        return Bad(key, "expected an unsigned integer");
      uint64_t u = v.get<uint64_t>();
      if (u > std::numeric_limits<T>::max()) return Bad(key, "value out of range");
      out = static_cast<T>(u);
    } else {
      if (!v.is_number_integer()) return Bad(key, "expected an integer");
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        return Bad(key, "value out of range");
      int64_t s = v.get<int64_t>();
      if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max()) return Bad(key, "value out of range");
      out = static_cast<T>(s);
    }
    return {};
  }

  const json& j_;
  std::string path_;
};

Result<void> ParseUser(const Obj& o, User& u) {
  TRY(o.Num("uid", u.uid));
  TRY(o.Num("gid", u.gid));
  TRY(o.Opt("umask", u.umask));
  if (const json* g = o.Get("additionalGids")) {
    if (!g->is_array()) return o.Bad("additionalGids", "expected an array of unsigned integers");
    for (const auto& e : *g) {
      if (!e.is_number_unsigned() || e.get<uint64_t>() > UINT32_MAX)
        return o.Bad("additionalGids", "expected an array of unsigned integers");
      u.additional_gids.push_back(static_cast<uint32_t>(e.get<uint64_t>()));
    }
  }
  if (o.Get("username")) {
    // Windows-only field; ignored.
  }
  return {};
}

Result<void> ParseProcessObj(const Obj& o, Process& p) {
  TRY(o.Bool("terminal", p.terminal));
  TRY(o.Child("consoleSize", [&](const Obj& c) -> Result<void> {
    ConsoleSize cs;
    TRY(c.Num("height", cs.height));
    TRY(c.Num("width", cs.width));
    p.console_size = cs;
    return {};
  }));
  TRY(o.Child("user", [&](const Obj& c) { return ParseUser(c, p.user); }));
  TRY(o.Strings("args", p.args));
  if (o.Get("commandLine")) return o.Bad("commandLine", "is a Windows field; use process.args");
  TRY(o.Strings("env", p.env));
  TRY(o.Str("cwd", p.cwd));
  TRY(o.Child("capabilities", [&](const Obj& c) -> Result<void> {
    Capabilities caps;
    TRY(c.Strings("bounding", caps.bounding));
    TRY(c.Strings("effective", caps.effective));
    TRY(c.Strings("inheritable", caps.inheritable));
    TRY(c.Strings("permitted", caps.permitted));
    TRY(c.Strings("ambient", caps.ambient));
    p.capabilities = std::move(caps);
    return {};
  }));
  TRY(o.Each("rlimits", [&](const Obj& c) -> Result<void> {
    Rlimit r;
    TRY(c.Str("type", r.type));
    TRY(c.Num("hard", r.hard));
    TRY(c.Num("soft", r.soft));
    p.rlimits.push_back(std::move(r));
    return {};
  }));
  TRY(o.Bool("noNewPrivileges", p.no_new_privileges));
  TRY(o.Str("apparmorProfile", p.apparmor_profile));
  TRY(o.Opt("oomScoreAdj", p.oom_score_adj));
  TRY(o.Str("selinuxLabel", p.selinux_label));
  return {};
}

Result<void> ParseHooks(const Obj& o, std::string_view key, std::vector<Hook>& out) {
  return o.Each(key, [&](const Obj& c) -> Result<void> {
    Hook h;
    TRY(c.Str("path", h.path));
    TRY(c.Strings("args", h.args));
    TRY(c.Strings("env", h.env));
    TRY(c.Opt("timeout", h.timeout));
    out.push_back(std::move(h));
    return {};
  });
}

Result<void> ParseThrottle(const Obj& o, std::string_view key, std::vector<ThrottleDevice>& out) {
  return o.Each(key, [&](const Obj& c) -> Result<void> {
    ThrottleDevice t;
    TRY(c.Num("major", t.major));
    TRY(c.Num("minor", t.minor));
    TRY(c.Num("rate", t.rate));
    out.push_back(t);
    return {};
  });
}

Result<void> ParseResourcesObj(const Obj& o, Resources& r) {
  TRY(o.Each("devices", [&](const Obj& c) -> Result<void> {
    DeviceCgroupRule d;
    TRY(c.Bool("allow", d.allow));
    TRY(c.Str("type", d.type));
    TRY(c.Opt("major", d.major));
    TRY(c.Opt("minor", d.minor));
    TRY(c.Str("access", d.access));
    r.devices.push_back(std::move(d));
    return {};
  }));
  TRY(o.Child("memory", [&](const Obj& c) -> Result<void> {
    MemoryResources m;
    TRY(c.Opt("limit", m.limit));
    TRY(c.Opt("reservation", m.reservation));
    TRY(c.Opt("swap", m.swap));
    TRY(c.Opt("kernel", m.kernel));
    TRY(c.Opt("kernelTCP", m.kernel_tcp));
    TRY(c.Opt("swappiness", m.swappiness));
    TRY(c.Opt("disableOOMKiller", m.disable_oom_killer));
    TRY(c.Opt("useHierarchy", m.use_hierarchy));
    TRY(c.Opt("checkBeforeUpdate", m.check_before_update));
    r.memory = m;
    return {};
  }));
  TRY(o.Child("cpu", [&](const Obj& c) -> Result<void> {
    CpuResources cpu;
    TRY(c.Opt("shares", cpu.shares));
    TRY(c.Opt("quota", cpu.quota));
    TRY(c.Opt("period", cpu.period));
    TRY(c.Opt("realtimeRuntime", cpu.realtime_runtime));
    TRY(c.Opt("realtimePeriod", cpu.realtime_period));
    TRY(c.Str("cpus", cpu.cpus));
    TRY(c.Str("mems", cpu.mems));
    TRY(c.Opt("idle", cpu.idle));
    r.cpu = std::move(cpu);
    return {};
  }));
  TRY(o.Child("pids", [&](const Obj& c) -> Result<void> {
    PidsResources p;
    TRY(c.Num("limit", p.limit));
    r.pids = p;
    return {};
  }));
  TRY(o.Child("blockIO", [&](const Obj& c) -> Result<void> {
    BlockIoResources b;
    TRY(c.Opt("weight", b.weight));
    TRY(c.Opt("leafWeight", b.leaf_weight));
    TRY(c.Each("weightDevice", [&](const Obj& d) -> Result<void> {
      WeightDevice w;
      TRY(d.Num("major", w.major));
      TRY(d.Num("minor", w.minor));
      TRY(d.Opt("weight", w.weight));
      TRY(d.Opt("leafWeight", w.leaf_weight));
      b.weight_device.push_back(w);
      return {};
    }));
    TRY(ParseThrottle(c, "throttleReadBpsDevice", b.throttle_read_bps_device));
    TRY(ParseThrottle(c, "throttleWriteBpsDevice", b.throttle_write_bps_device));
    TRY(ParseThrottle(c, "throttleReadIOPSDevice", b.throttle_read_iops_device));
    TRY(ParseThrottle(c, "throttleWriteIOPSDevice", b.throttle_write_iops_device));
    r.block_io = std::move(b);
    return {};
  }));
  TRY(o.Each("hugepageLimits", [&](const Obj& c) -> Result<void> {
    HugepageLimit h;
    TRY(c.Str("pageSize", h.page_size));
    TRY(c.Num("limit", h.limit));
    r.hugepage_limits.push_back(std::move(h));
    return {};
  }));
  TRY(o.StringMap("unified", r.unified));
  return {};
}

Result<void> ParseSeccomp(const Obj& o, Seccomp& s) {
  TRY(o.Str("defaultAction", s.default_action));
  TRY(o.Opt("defaultErrnoRet", s.default_errno_ret));
  TRY(o.Strings("architectures", s.architectures));
  TRY(o.Strings("flags", s.flags));
  TRY(o.Str("listenerPath", s.listener_path));
  TRY(o.Each("syscalls", [&](const Obj& c) -> Result<void> {
    SeccompSyscall sc;
    TRY(c.Strings("names", sc.names));
    TRY(c.Str("action", sc.action));
    TRY(c.Opt("errnoRet", sc.errno_ret));
    TRY(c.Each("args", [&](const Obj& a) -> Result<void> {
      SeccompArg arg;
      TRY(a.Num("index", arg.index));
      TRY(a.Num("value", arg.value));
      TRY(a.Num("valueTwo", arg.value_two));
      TRY(a.Str("op", arg.op));
      sc.args.push_back(std::move(arg));
      return {};
    }));
    s.syscalls.push_back(std::move(sc));
    return {};
  }));
  return {};
}

Result<void> ParseIdMappings(const Obj& o, std::string_view key, std::vector<IdMapping>& out) {
  return o.Each(key, [&](const Obj& c) -> Result<void> {
    IdMapping m;
    TRY(c.Num("containerID", m.container_id));
    TRY(c.Num("hostID", m.host_id));
    TRY(c.Num("size", m.size));
    out.push_back(m);
    return {};
  });
}

Result<void> ParseLinux(const Obj& o, Linux& l) {
  TRY(o.Each("namespaces", [&](const Obj& c) -> Result<void> {
    Namespace n;
    TRY(c.Str("type", n.type));
    TRY(c.Str("path", n.path));
    l.namespaces.push_back(std::move(n));
    return {};
  }));
  TRY(ParseIdMappings(o, "uidMappings", l.uid_mappings));
  TRY(ParseIdMappings(o, "gidMappings", l.gid_mappings));
  TRY(o.Each("devices", [&](const Obj& c) -> Result<void> {
    Device d;
    TRY(c.Str("type", d.type));
    TRY(c.Str("path", d.path));
    TRY(c.Num("major", d.major));
    TRY(c.Num("minor", d.minor));
    TRY(c.Opt("fileMode", d.file_mode));
    TRY(c.Opt("uid", d.uid));
    TRY(c.Opt("gid", d.gid));
    l.devices.push_back(std::move(d));
    return {};
  }));
  TRY(o.Str("cgroupsPath", l.cgroups_path));
  TRY(o.Child("resources", [&](const Obj& c) -> Result<void> {
    Resources r;
    TRY(ParseResourcesObj(c, r));
    l.resources = std::move(r);
    return {};
  }));
  TRY(o.StringMap("sysctl", l.sysctl));
  TRY(o.Child("seccomp", [&](const Obj& c) -> Result<void> {
    Seccomp s;
    TRY(ParseSeccomp(c, s));
    l.seccomp = std::move(s);
    return {};
  }));
  TRY(o.Str("rootfsPropagation", l.rootfs_propagation));
  TRY(o.Strings("maskedPaths", l.masked_paths));
  TRY(o.Strings("readonlyPaths", l.readonly_paths));
  TRY(o.Str("mountLabel", l.mount_label));
  return {};
}

// Callers add what was parsed ("config.json: …") as context.
Result<json> ParseJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return FailInvalid("not valid JSON");
  if (!j.is_object()) return FailInvalid("expected a JSON object");
  return j;
}

}  // namespace

const Namespace* Spec::FindNamespace(std::string_view type) const {
  for (const auto& n : linux.namespaces)
    if (n.type == type) return &n;
  return nullptr;
}

Result<Spec> ParseSpec(std::string_view text) {
  json j = TRY(ParseJson(text));
  Obj o(j, "");
  Spec s;
  TRY(o.Str("ociVersion", s.oci_version));
  TRY(o.Child("process", [&](const Obj& c) -> Result<void> {
    Process p;
    TRY(ParseProcessObj(c, p));
    s.process = std::move(p);
    return {};
  }));
  TRY(o.Child("root", [&](const Obj& c) -> Result<void> {
    TRY(c.Str("path", s.root.path));
    TRY(c.Bool("readonly", s.root.readonly));
    return {};
  }));
  TRY(o.Str("hostname", s.hostname));
  TRY(o.Str("domainname", s.domainname));
  TRY(o.Each("mounts", [&](const Obj& c) -> Result<void> {
    Mount m;
    TRY(c.Str("destination", m.destination));
    TRY(c.Str("type", m.type));
    TRY(c.Str("source", m.source));
    TRY(c.Strings("options", m.options));
    s.mounts.push_back(std::move(m));
    return {};
  }));
  TRY(o.Child("hooks", [&](const Obj& c) -> Result<void> {
    TRY(ParseHooks(c, "prestart", s.hooks.prestart));
    TRY(ParseHooks(c, "createRuntime", s.hooks.create_runtime));
    TRY(ParseHooks(c, "createContainer", s.hooks.create_container));
    TRY(ParseHooks(c, "startContainer", s.hooks.start_container));
    TRY(ParseHooks(c, "poststart", s.hooks.poststart));
    TRY(ParseHooks(c, "poststop", s.hooks.poststop));
    return {};
  }));
  TRY(o.StringMap("annotations", s.annotations));
  TRY(o.Child("linux", [&](const Obj& c) { return ParseLinux(c, s.linux); }));
  return s;
}

Result<Process> ParseProcess(std::string_view text) {
  json j = TRY(ParseJson(text));
  Process p;
  TRY(ParseProcessObj(Obj(j, "process"), p));
  return p;
}

Result<Resources> ParseResources(std::string_view text) {
  json j = TRY(ParseJson(text));
  Resources r;
  TRY(ParseResourcesObj(Obj(j, "resources"), r));
  return r;
}

}  // namespace moor::oci
