// Docker's create body → ContainerConfig, with Docker's validation rules, and
// the two JSON forms of a config: the state store's (ToJson/FromJson) and
// Docker's inspect objects.
#include "engine/container_config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"
#include "runtime/ops.h"

namespace moor::engine {

namespace {

using json = nlohmann::json;

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's minimum memory limit
constexpr int64_t kNanosPerCpu = 1'000'000'000;
constexpr int64_t kMillisecondNs = 1'000'000;

std::string Q(std::string_view s) {
  return JsonQuote(s);
}

std::unexpected<Error> Bad(const std::string& field, const std::string& value, const std::string& rule) {
  return FailInvalid(field + ": " + value + ": " + rule);
}

// Docker clients send every field, most of them empty: a field moor does not
// know is harmless exactly when it holds its zero value.
bool IsZero(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return true;
    case json::value_t::boolean:
      return !v.get<bool>();
    case json::value_t::string:
      return v.get_ref<const std::string&>().empty();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return v.get<double>() == 0;
    case json::value_t::array:
    case json::value_t::object:
      return std::all_of(v.begin(), v.end(), [](const json& e) { return IsZero(e); });
    default:
      return false;
  }
}

std::string Short(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// Reads the members of one JSON object, each named by its path in errors.
// Finish() rejects the members nobody read unless they hold zero values.
class ObjectReader {
 public:
  static Result<ObjectReader> Open(const json* j, std::string path) {
    if (j && !j->is_null() && !j->is_object()) return FailInvalid(path + ": expected a JSON object");
    return ObjectReader(j && j->is_object() ? j : nullptr, std::move(path));
  }

  std::string PathOf(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  // The member, or nullptr when absent or null. Marks it as read.
  const json* Take(const std::string& key) {
    taken_.insert(key);
    if (!obj_) return nullptr;
    auto it = obj_->find(key);
    return it == obj_->end() || it->is_null() ? nullptr : &*it;
  }

  Result<std::string> String(const std::string& key) {
    const json* v = Take(key);
    if (!v) return std::string();
    if (!v->is_string()) return FailInvalid(PathOf(key) + ": expected a string, got " + Short(*v));
    return v->get<std::string>();
  }

  Result<bool> Bool(const std::string& key) {
    const json* v = Take(key);
    if (!v) return false;
    if (!v->is_boolean()) return FailInvalid(PathOf(key) + ": expected true or false, got " + Short(*v));
    return v->get<bool>();
  }

  Result<std::optional<int64_t>> OptInt(const std::string& key) {
    const json* v = Take(key);
    if (!v) return std::optional<int64_t>();
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return FailInvalid(PathOf(key) + ": " + v->dump() + " is too large");
    if (!v->is_number_integer()) return FailInvalid(PathOf(key) + ": expected an integer, got " + Short(*v));
    return std::optional<int64_t>(v->get<int64_t>());
  }

  Result<int64_t> Int(const std::string& key) { return TRY(OptInt(key)).value_or(0); }

  // Docker's StrSlice: an array of strings, or one string.
  Result<std::optional<std::vector<std::string>>> OptStrings(const std::string& key) {
    const json* v = Take(key);
    if (!v) return std::optional<std::vector<std::string>>();
    if (v->is_string()) return std::optional(std::vector<std::string>{v->get<std::string>()});
    if (!v->is_array()) return FailInvalid(PathOf(key) + ": expected an array of strings, got " + Short(*v));
    std::vector<std::string> out;
    for (const auto& e : *v) {
      if (!e.is_string())
        return FailInvalid(PathOf(key) + ": expected an array of strings, got element " + Short(e));
      out.push_back(e.get<std::string>());
    }
    return std::optional(std::move(out));
  }

  Result<std::vector<std::string>> Strings(const std::string& key) {
    return TRY(OptStrings(key)).value_or(std::vector<std::string>{});
  }

  Result<std::map<std::string, std::string>> StringMap(const std::string& key) {
    const json* v = Take(key);
    std::map<std::string, std::string> out;
    if (!v) return out;
    if (!v->is_object())
      return FailInvalid(PathOf(key) + ": expected an object of strings, got " + Short(*v));
    for (const auto& [k, e] : v->items()) {
      if (!e.is_string()) return FailInvalid(PathOf(key) + "." + k + ": expected a string, got " + Short(e));
      out[k] = e.get<std::string>();
    }
    return out;
  }

  // The keys of an object member (ExposedPorts, Volumes: values are {}).
  Result<std::vector<std::string>> Keys(const std::string& key) {
    const json* v = Take(key);
    std::vector<std::string> out;
    if (!v) return out;
    if (!v->is_object()) return FailInvalid(PathOf(key) + ": expected a JSON object, got " + Short(*v));
    for (const auto& [k, e] : v->items()) out.push_back(k);
    return out;
  }

  Result<ObjectReader> Object(const std::string& key) { return Open(Take(key), PathOf(key)); }

  // A field moor does not act on but accepts when it holds one of `allowed`
  // (or its zero value).
  Result<void> OnlyValues(const std::string& key, const std::vector<json>& allowed, const std::string& why) {
    const json* v = Take(key);
    if (!v || IsZero(*v) || std::find(allowed.begin(), allowed.end(), *v) != allowed.end()) return {};
    return Bad(PathOf(key), Short(*v), why);
  }

  Result<void> Finish() const {
    if (!obj_) return {};
    for (const auto& [k, v] : obj_->items()) {
      if (taken_.contains(k) || IsZero(v)) continue;
      return Bad(PathOf(k), Short(v), "moor does not support this field; leave it out");
    }
    return {};
  }

 private:
  ObjectReader(const json* obj, std::string path) : obj_(obj), path_(std::move(path)) {}
  const json* obj_;
  std::string path_;
  std::set<std::string> taken_;
};

// filepath.Clean for absolute paths, as Docker applies to mount paths:
// "/a//b/./../c/" → "/a/c".
std::string CleanAbs(std::string_view p) {
  std::vector<std::string> parts;
  for (auto& s : Split(p, '/')) {
    if (s.empty() || s == ".") continue;
    if (s == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(s));
  }
  return "/" + Join(parts, "/");
}

// Docker's restricted names (volumes, networks, containers):
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, volumes need at least two characters.
bool ValidName(std::string_view s, size_t min_len) {
  if (s.size() < min_len || s.empty() || !isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

Result<std::string> ContainerPath(const std::string& field, const std::string& path) {
  if (path.empty() || path.front() != '/') return Bad(field, Q(path), "container paths must be absolute");
  std::string clean = CleanAbs(path);
  if (clean == "/") return Bad(field, Q(path), "cannot mount over the container's root (\"/\")");
  return clean;
}

Result<std::string> VolumeName(const std::string& field, const std::string& name) {
  if (!ValidName(name, 2))
    return Bad(field, Q(name),
               "volume names need at least two characters from [a-zA-Z0-9_.-], starting with a letter or "
               "digit (a host path must be absolute)");
  return name;
}

bool IsPropagation(std::string_view s) {
  for (const char* p : {"private", "rprivate", "shared", "rshared", "slave", "rslave"})
    if (s == p) return true;
  return false;
}

constexpr const char* kPropagations = "private, rprivate, shared, rshared, slave or rslave";

// "SRC:DST[:OPTIONS]" (OPTIONS: ro|rw, a propagation, nocopy, z|Z) or "DST"
// alone, an anonymous volume.
Result<MountSpec> ParseBind(const std::string& field, const std::string& spec) {
  std::vector<std::string> parts = Split(spec, ':');
  if (parts.size() > 3 || std::any_of(parts.begin(), parts.end(), [](auto& p) { return p.empty(); }))
    return Bad(field, Q(spec), "expected SRC:DST[:OPTIONS] (SRC an absolute host path or a volume name)");
  MountSpec m;
  m.type = "volume";
  if (parts.size() == 1) {
    m.target = TRY(ContainerPath(field, parts[0]));
    return m;
  }
  m.target = TRY(ContainerPath(field, parts[1]));
  if (parts[0].front() == '/') {
    m.type = "bind";
    m.source = CleanAbs(parts[0]);
  } else {
    m.source = TRY(VolumeName(field, parts[0]));
  }
  if (parts.size() < 3) return m;
  bool have_mode = false;
  for (const auto& opt : Split(parts[2], ',')) {
    if (opt == "ro" || opt == "rw") {
      if (have_mode) return Bad(field, Q(spec), "give ro or rw once");
      have_mode = true;
      m.read_only = opt == "ro";
    } else if (IsPropagation(opt)) {
      if (m.type != "bind") return Bad(field, Q(spec), "propagation applies to bind mounts only");
      if (!m.propagation.empty()) return Bad(field, Q(spec), "give one propagation");
      m.propagation = opt;
    } else if (opt == "nocopy") {
      if (m.type != "volume") return Bad(field, Q(spec), "nocopy applies to volumes only");
    } else if (opt == "z" || opt == "Z" || opt == "consistent" || opt == "cached" || opt == "delegated") {
      // SELinux relabelling and macOS consistency hints: nothing to do here.
    } else {
      return Bad(
          field, Q(spec),
          "unknown option " + Q(opt) + " (use ro, rw, nocopy or a propagation: " + kPropagations + ")");
    }
  }
  return m;
}

Result<uint32_t> TmpfsMode(const std::string& field, int64_t mode) {
  if (mode < 0 || mode > 07777) return Bad(field, std::to_string(mode), "mode must be between 0 and 07777");
  return static_cast<uint32_t>(mode);
}

// HostConfig.Tmpfs: {"/run": "size=64m,mode=1777,ro,noexec"}.
Result<MountSpec> ParseTmpfs(const std::string& field, const std::string& target,
                             const std::string& options) {
  MountSpec m;
  m.type = "tmpfs";
  m.target = TRY(ContainerPath(field, target));
  if (options.empty()) return m;
  for (const auto& opt : Split(options, ',')) {
    std::string_view o = Trim(opt);
    if (StartsWith(o, "size=")) {
      auto size = ParseByteSize(o.substr(5));
      if (!size || *size < 0)
        return Bad(field, Q(std::string(o)), "size must be a byte count like 65536, 64k, 64m or 1g");
      m.tmpfs_size = *size;
    } else if (StartsWith(o, "mode=")) {
      std::string_view digits = o.substr(5);
      uint32_t mode = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mode, 8);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || mode > 07777)
        return Bad(field, Q(std::string(o)), "mode must be octal, at most 7777 (e.g. mode=1777)");
      m.tmpfs_mode = mode;
    } else if (o == "ro" || o == "rw") {
      m.read_only = o == "ro";
    } else if (o == "noexec" || o == "exec") {
      m.tmpfs_noexec = o == "noexec";
    } else if (o == "nosuid" || o == "nodev" || o.empty()) {
      // Always applied to tmpfs mounts.
    } else {
      return Bad(field, Q(std::string(o)),
                 "unsupported tmpfs option (use size=, mode=, ro, rw, exec or noexec)");
    }
  }
  return m;
}

// HostConfig.Mounts[i]: {"Type","Source","Target","ReadOnly","BindOptions",
// "VolumeOptions","TmpfsOptions"}.
Result<MountSpec> ParseMountObject(const json& j, const std::string& field) {
  ObjectReader r = TRY(ObjectReader::Open(&j, field));
  MountSpec m;
  m.type = TRY(r.String("Type"));
  if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs")
    return Bad(r.PathOf("Type"), Q(m.type), "type must be bind, volume or tmpfs");
  m.target = TRY(ContainerPath(r.PathOf("Target"), TRY(r.String("Target"))));
  std::string source = TRY(r.String("Source"));
  m.read_only = TRY(r.Bool("ReadOnly"));
  (void)r.Take("Consistency");  // a macOS hint
  auto only_for = [&](const char* key, const char* type) -> Result<const json*> {
    const json* v = r.Take(key);
    if (v && !IsZero(*v) && m.type != type)
      return Bad(r.PathOf(key), Short(*v), std::string("applies to type ") + type + " only, not " + m.type);
    return m.type == type ? v : nullptr;
  };
  const json* bind_opts = TRY(only_for("BindOptions", "bind"));
  const json* volume_opts = TRY(only_for("VolumeOptions", "volume"));
  const json* tmpfs_opts = TRY(only_for("TmpfsOptions", "tmpfs"));

  if (m.type == "bind") {
    if (source.empty() || source.front() != '/')
      return Bad(r.PathOf("Source"), Q(source), "a bind mount needs an absolute host path");
    m.source = CleanAbs(source);
    ObjectReader b = TRY(ObjectReader::Open(bind_opts, r.PathOf("BindOptions")));
    m.propagation = TRY(b.String("Propagation"));
    if (!m.propagation.empty() && !IsPropagation(m.propagation))
      return Bad(b.PathOf("Propagation"), Q(m.propagation), std::string("use ") + kPropagations);
    TRY(b.Finish());
  } else if (m.type == "volume") {
    if (!source.empty()) m.source = TRY(VolumeName(r.PathOf("Source"), source));
    ObjectReader v = TRY(ObjectReader::Open(volume_opts, r.PathOf("VolumeOptions")));
    (void)v.Take("NoCopy");
    ObjectReader driver = TRY(v.Object("DriverConfig"));
    TRY(driver.OnlyValues("Name", {"local"}, "moor has only the local volume driver"));
    TRY(driver.Finish());
    TRY(v.Finish());
  } else {
    if (!source.empty()) return Bad(r.PathOf("Source"), Q(source), "a tmpfs mount has no source");
    ObjectReader t = TRY(ObjectReader::Open(tmpfs_opts, r.PathOf("TmpfsOptions")));
    m.tmpfs_size = TRY(t.Int("SizeBytes"));
    if (m.tmpfs_size < 0)
      return Bad(t.PathOf("SizeBytes"), std::to_string(m.tmpfs_size), "must not be negative");
    m.tmpfs_mode = TRY(TmpfsMode(t.PathOf("Mode"), TRY(t.Int("Mode"))));
    TRY(t.Finish());
  }
  TRY(r.Finish());
  return m;
}

// "80/tcp", "53/udp", "80" (tcp) → port and protocol.
Result<std::pair<int, bool>> ParsePortProto(const std::string& field, const std::string& spec) {
  std::string port = spec, proto = "tcp";
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    port = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
  }
  if (proto != "tcp" && proto != "udp") return Bad(field, Q(spec), "protocol must be tcp or udp");
  auto n = ParseInt(port);
  if (!n || *n < 1 || *n > 65535)
    return Bad(field, Q(spec), "port must be a number from 1 to 65535 (ranges are not supported)");
  return std::pair{static_cast<int>(*n), proto == "udp"};
}

std::string PortKey(int port, bool udp) {
  return std::to_string(port) + (udp ? "/udp" : "/tcp");
}

bool IsIpAddress(const std::string& s, int family) {
  unsigned char buf[16];
  return inet_pton(family, s.c_str(), buf) == 1;
}

bool AllAddresses(const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; }

// Two bindings that would listen on the same socket address.
bool SameHostPort(const PortBinding& a, const PortBinding& b) {
  return a.host_port == b.host_port && a.udp == b.udp &&
         (a.host_ip == b.host_ip || AllAddresses(a.host_ip) || AllAddresses(b.host_ip));
}

Result<void> ParsePortBindings(ObjectReader& host, ContainerConfig& c) {
  const std::string field = host.PathOf("PortBindings");
  const json* pb = host.Take("PortBindings");
  if (!pb) return {};
  if (!pb->is_object())
    return Bad(field, Short(*pb), "expected an object like {\"80/tcp\": [{\"HostPort\": \"8080\"}]}");
  for (const auto& [key, list] : pb->items()) {
    auto [port, udp] = TRY(ParsePortProto(field, key));
    std::string exposed = PortKey(port, udp);
    if (std::find(c.exposed_ports.begin(), c.exposed_ports.end(), exposed) == c.exposed_ports.end())
      c.exposed_ports.push_back(exposed);
    if (list.is_null()) continue;
    if (!list.is_array()) return Bad(field + "." + key, Short(list), "expected an array of bindings");
    for (size_t i = 0; i < list.size(); ++i) {
      ObjectReader b = TRY(ObjectReader::Open(&list[i], field + "." + key + "[" + std::to_string(i) + "]"));
      PortBinding pbind{port, udp, TRY(b.String("HostIp")), 0};
      if (!pbind.host_ip.empty() && !IsIpAddress(pbind.host_ip, AF_INET) &&
          !IsIpAddress(pbind.host_ip, AF_INET6))
        return Bad(b.PathOf("HostIp"), Q(pbind.host_ip), "expected an IP address or \"\" for all addresses");
      std::string host_port = TRY(b.String("HostPort"));
      if (!host_port.empty()) {
        auto n = ParseInt(host_port);
        if (!n || *n < 0 || *n > 65535)
          return Bad(
              b.PathOf("HostPort"), Q(host_port),
              "expected a port from 1 to 65535, or \"\" to pick a free one (ranges are not supported)");
        pbind.host_port = static_cast<int>(*n);
      }
      TRY(b.Finish());
      for (const auto& other : c.ports)
        if (pbind.host_port != 0 && SameHostPort(other, pbind))
          return Bad(field, Q(key), "host port " + PortKey(pbind.host_port, udp) + " is published twice");
      c.ports.push_back(pbind);
    }
  }
  std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
  return {};
}

Result<void> CheckDuration(ObjectReader& r, const std::string& key, int64_t& out) {
  int64_t ns = TRY(r.Int(key));
  if (ns != 0 && ns < kMillisecondNs)
    return Bad(r.PathOf(key), std::to_string(ns), "must be 0 (the default) or at least 1ms (1000000 ns)");
  if (ns != 0) out = ns;
  return {};
}

Result<void> CheckHealthTest(const std::string& field, const std::vector<std::string>& t) {
  std::string shown = Q(Join(t, " "));
  const std::string& kind = t[0];
  auto port_ok = [](const std::string& s) {
    auto n = ParseInt(s);
    return n && *n >= 1 && *n <= 65535;
  };
  if (kind == "NONE") {
    if (t.size() != 1) return Bad(field, shown, "NONE takes no arguments");
  } else if (kind == "CMD") {
    if (t.size() < 2) return Bad(field, shown, "CMD needs the command to run");
  } else if (kind == "CMD-SHELL") {
    if (t.size() != 2) return Bad(field, shown, "CMD-SHELL takes one shell command string");
  } else if (kind == "TCP") {
    if (t.size() != 2 || !port_ok(t[1]))
      return Bad(field, shown, "expected [\"TCP\", \"PORT\"], PORT 1..65535");
  } else if (kind == "HTTP") {
    auto status_ok = [](const std::string& s) {
      auto n = ParseInt(s);
      return n && *n >= 100 && *n <= 599;
    };
    if (t.size() < 3 || t.size() > 4 || !port_ok(t[1]) || t[2].empty() || t[2].front() != '/' ||
        (t.size() == 4 && !status_ok(t[3])))
      return Bad(field, shown,
                 "expected [\"HTTP\", \"PORT\", \"/path\"] or [\"HTTP\", \"PORT\", \"/path\", \"STATUS\"]");
  } else {
    return Bad(field, Q(kind), "the test kind must be NONE, CMD, CMD-SHELL, TCP or HTTP");
  }
  return {};
}

Result<std::optional<HealthSpec>> ParseHealth(ObjectReader& top) {
  ObjectReader r = TRY(top.Object("Healthcheck"));
  HealthSpec h;
  h.test = TRY(r.Strings("Test"));
  TRY(CheckDuration(r, "Interval", h.interval_ns));
  TRY(CheckDuration(r, "Timeout", h.timeout_ns));
  TRY(CheckDuration(r, "StartPeriod", h.start_period_ns));
  int64_t retries = TRY(r.Int("Retries"));
  if (retries < 0 || retries > INT32_MAX)
    return Bad(r.PathOf("Retries"), std::to_string(retries), "must be 0 or more");
  if (retries) h.retries = static_cast<int>(retries);
  TRY(r.Finish());
  if (h.test.empty()) return std::optional<HealthSpec>();
  TRY(CheckHealthTest(r.PathOf("Test"), h.test));
  return std::optional(h);
}

// "0-3,5" (cpuset list syntax).
bool ValidCpuList(std::string_view s) {
  if (s.empty()) return false;
  for (const auto& item : Split(s, ',')) {
    auto dash = item.find('-');
    auto lo = ParseUint(item.substr(0, dash));
    if (!lo) return false;
    if (dash != std::string::npos) {
      auto hi = ParseUint(item.substr(dash + 1));
      if (!hi || *hi < *lo) return false;
    }
  }
  return true;
}

Result<void> ParseResources(ObjectReader& h, ResourceSpec& r) {
  r.memory = TRY(h.Int("Memory"));
  if (r.memory < 0 || (r.memory > 0 && r.memory < kMinMemory))
    return Bad(h.PathOf("Memory"), std::to_string(r.memory),
               "must be at least 6 MiB (6291456 bytes), or 0 for no limit");
  r.memory_swap = TRY(h.Int("MemorySwap"));
  if (r.memory_swap < -1)
    return Bad(h.PathOf("MemorySwap"), std::to_string(r.memory_swap),
               "must be -1 (unlimited), 0 or a byte count");
  if (r.memory_swap > 0 && r.memory == 0)
    return Bad(h.PathOf("MemorySwap"), std::to_string(r.memory_swap), "needs Memory set too");
  if (r.memory_swap > 0 && r.memory_swap < r.memory)
    return Bad(h.PathOf("MemorySwap"), std::to_string(r.memory_swap),
               "must be at least Memory (" + std::to_string(r.memory) + "): it counts memory plus swap");
  r.nano_cpus = TRY(h.Int("NanoCpus"));
  if (r.nano_cpus != 0) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t max = (online > 0 ? online : 1) * kNanosPerCpu;
    if (r.nano_cpus < kNanosPerCpu / 100 || r.nano_cpus > max)
      return Bad(h.PathOf("NanoCpus"), std::to_string(r.nano_cpus),
                 "CPUs must be from 0.01 to " + std::to_string(max / kNanosPerCpu) +
                     " (this host's CPUs), in billionths (1.5 CPUs = 1500000000)");
  }
  r.cpu_shares = TRY(h.Int("CpuShares"));
  if (r.cpu_shares < 0)
    return Bad(h.PathOf("CpuShares"), std::to_string(r.cpu_shares), "must not be negative");
  r.cpuset_cpus = TRY(h.String("CpusetCpus"));
  if (!r.cpuset_cpus.empty() && !ValidCpuList(r.cpuset_cpus))
    return Bad(h.PathOf("CpusetCpus"), Q(r.cpuset_cpus), "expected a CPU list like 0-3,5");
  r.pids_limit = std::max<int64_t>(TRY(h.Int("PidsLimit")), 0);  // Docker: ≤ 0 is unlimited
  int64_t weight = TRY(h.Int("BlkioWeight"));
  if (weight != 0 && (weight < 10 || weight > 1000))
    return Bad(h.PathOf("BlkioWeight"), std::to_string(weight),
               "must be from 10 to 1000, or 0 for the default");
  r.blkio_weight = static_cast<int>(weight);
  r.oom_kill_disable = TRY(h.Bool("OomKillDisable"));
  return {};
}

Result<void> ParseRestart(ObjectReader& h, RestartPolicySpec& rp) {
  ObjectReader r = TRY(h.Object("RestartPolicy"));
  rp.name = TRY(r.String("Name"));
  if (rp.name.empty()) rp.name = "no";
  if (rp.name != "no" && rp.name != "always" && rp.name != "unless-stopped" && rp.name != "on-failure")
    return Bad(r.PathOf("Name"), Q(rp.name), "use no, always, unless-stopped or on-failure");
  int64_t retries = TRY(r.Int("MaximumRetryCount"));
  if (retries < 0 || retries > INT32_MAX)
    return Bad(r.PathOf("MaximumRetryCount"), std::to_string(retries), "must be 0 (no limit) or more");
  if (retries != 0 && rp.name != "on-failure")
    return Bad(r.PathOf("MaximumRetryCount"), std::to_string(retries),
               "a retry count applies to the on-failure policy only, not " + Q(rp.name));
  rp.max_retries = static_cast<int>(retries);
  return r.Finish();
}

Result<void> ParseNetworkMode(ObjectReader& h, ContainerConfig& c) {
  std::string mode = TRY(h.String("NetworkMode"));
  if (mode.empty() || mode == "default") mode = "bridge";
  if (StartsWith(mode, "container:")) {
    std::string name = mode.substr(10);
    if (!name.empty() && name.front() == '/') name.erase(0, 1);
    if (!ValidName(name, 1))
      return Bad(h.PathOf("NetworkMode"), Q(mode), "expected container:NAME with a container's name or ID");
  } else if (mode != "bridge" && mode != "host" && mode != "none" && !ValidName(mode, 1)) {
    return Bad(h.PathOf("NetworkMode"), Q(mode),
               "use bridge, host, none, container:NAME or a network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
  }
  c.network_mode = mode;
  return {};
}

bool UserDefinedNetwork(const std::string& mode) {
  return mode != "bridge" && mode != "host" && mode != "none" && !StartsWith(mode, "container:");
}

// NetworkingConfig.EndpointsConfig: {"NET": {"IPAMConfig": {"IPv4Address"}, "Aliases"}}.
Result<void> ParseNetworking(ObjectReader& top, ContainerConfig& c) {
  ObjectReader nc = TRY(top.Object("NetworkingConfig"));
  const json* eps = nc.Take("EndpointsConfig");
  TRY(nc.Finish());
  if (!eps) return {};
  const std::string field = nc.PathOf("EndpointsConfig");
  if (!eps->is_object()) return Bad(field, Short(*eps), "expected an object keyed by network name");
  bool seen = false;
  for (const auto& [net, ep] : eps->items()) {
    ObjectReader e = TRY(ObjectReader::Open(&ep, field + "." + net));
    ObjectReader ipam = TRY(e.Object("IPAMConfig"));
    std::string ip = TRY(ipam.String("IPv4Address"));
    TRY(ipam.Finish());
    std::vector<std::string> aliases = TRY(e.Strings("Aliases"));
    TRY(e.Finish());
    if (ip.empty() && aliases.empty()) continue;  // clients send empty endpoints for the mode's network
    std::string mode_net = net == "default" ? "bridge" : net;
    if (seen || mode_net != c.network_mode)
      return Bad(field, Q(net),
                 "endpoint settings apply only to the network of HostConfig.NetworkMode (" +
                     Q(c.network_mode) + "); connect other networks after create");
    seen = true;
    if (!UserDefinedNetwork(c.network_mode))
      return Bad(e.PathOf(ip.empty() ? "Aliases" : "IPAMConfig.IPv4Address"), Q(ip.empty() ? aliases[0] : ip),
                 "addresses and aliases can be set on user-defined networks only");
    if (!ip.empty() && !IsIpAddress(ip, AF_INET))
      return Bad(e.PathOf("IPAMConfig.IPv4Address"), Q(ip), "expected an IPv4 address");
    for (const auto& a : aliases)
      if (!ValidName(a, 1)) return Bad(e.PathOf("Aliases"), Q(a), "aliases use [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    c.ipv4_address = ip;
    c.network_aliases = aliases;
  }
  return {};
}

Result<void> ParseMounts(ObjectReader& h, std::vector<MountSpec>& mounts) {
  for (const auto& b : TRY(h.Strings("Binds"))) mounts.push_back(TRY(ParseBind(h.PathOf("Binds"), b)));
  const std::string mounts_field = h.PathOf("Mounts");
  if (const json* ms = h.Take("Mounts")) {
    if (!ms->is_array()) return Bad(mounts_field, Short(*ms), "expected an array of mount objects");
    for (size_t i = 0; i < ms->size(); ++i)
      mounts.push_back(TRY(ParseMountObject((*ms)[i], mounts_field + "[" + std::to_string(i) + "]")));
  }
  for (const auto& [target, opts] : TRY(h.StringMap("Tmpfs")))
    mounts.push_back(TRY(ParseTmpfs(h.PathOf("Tmpfs"), target, opts)));
  return {};
}

// Fields of HostConfig moor accepts with a few non-zero values Docker's CLI
// sends by default.
Result<void> AcceptHostDefaults(ObjectReader& h) {
  (void)h.Take("ConsoleSize");  // the monitor learns the size from resize calls
  TRY(h.OnlyValues("CgroupnsMode", {"private"}, "moor gives each container a private cgroup namespace"));
  TRY(h.OnlyValues("IpcMode", {"private", "shareable"}, "moor gives each container a private IPC namespace"));
  TRY(h.OnlyValues("Isolation", {"default"}, "only the default isolation exists on Linux"));
  TRY(h.OnlyValues("MemorySwappiness", {-1}, "moor keeps the kernel's swappiness"));
  ObjectReader log = TRY(h.Object("LogConfig"));
  TRY(log.OnlyValues("Type", {"json-file"}, "moor keeps its own log file; log drivers are not supported"));
  return log.Finish();
}

Result<void> ParseHostConfig(ObjectReader& top, ContainerConfig& c) {
  ObjectReader h = TRY(top.Object("HostConfig"));
  TRY(ParseMounts(h, c.mounts));
  TRY(ParsePortBindings(h, c));
  TRY(ParseNetworkMode(h, c));
  TRY(ParseRestart(h, c.restart));
  c.auto_remove = TRY(h.Bool("AutoRemove"));
  c.init = TRY(h.Bool("Init"));
  c.read_only_rootfs = TRY(h.Bool("ReadonlyRootfs"));
  TRY(ParseResources(h, c.resources));
  c.runtime = TRY(h.String("Runtime"));
  TRY(AcceptHostDefaults(h));
  return h.Finish();
}

Result<void> ParseConfigFields(ObjectReader& r, ContainerConfig& c) {
  c.image = TRY(r.String("Image"));
  if (c.image.empty()) return FailInvalid("Image: required (the image to create the container from)");
  c.cmd = TRY(r.Strings("Cmd"));
  c.entrypoint = TRY(r.OptStrings("Entrypoint"));
  if (c.entrypoint && *c.entrypoint == std::vector<std::string>{""}) c.entrypoint->clear();
  c.env = TRY(r.Strings("Env"));
  for (const auto& e : c.env)
    if (e.empty() || e.front() == '=' || e.find('=') == std::string::npos)
      return Bad(r.PathOf("Env"), Q(e), "expected KEY=VALUE");
  c.user = TRY(r.String("User"));
  c.working_dir = TRY(r.String("WorkingDir"));
  if (!c.working_dir.empty() && c.working_dir.front() != '/')
    return Bad(r.PathOf("WorkingDir"), Q(c.working_dir), "the working directory must be an absolute path");
  c.hostname = TRY(r.String("Hostname"));
  if (!c.hostname.empty() && (c.hostname.size() > 63 || !ValidName(c.hostname, 1)))
    return Bad(r.PathOf("Hostname"), Q(c.hostname),
               "a hostname is at most 63 characters from [a-zA-Z0-9_.-], starting with a letter or digit");
  c.tty = TRY(r.Bool("Tty"));
  c.open_stdin = TRY(r.Bool("OpenStdin"));
  c.labels = TRY(r.StringMap("Labels"));
  c.stop_signal = TRY(r.String("StopSignal"));
  if (!c.stop_signal.empty() && !runtime::ParseSignal(c.stop_signal))
    return Bad(r.PathOf("StopSignal"), Q(c.stop_signal), "expected a signal name like SIGTERM or a number");
  if (auto t = TRY(r.OptInt("StopTimeout"))) {
    if (*t < -1 || *t > INT32_MAX)
      return Bad(r.PathOf("StopTimeout"), std::to_string(*t), "seconds must be 0 or more (-1: wait forever)");
    c.stop_timeout = static_cast<int>(*t);
  }
  for (const auto& p : TRY(r.Keys("ExposedPorts"))) {
    auto [port, udp] = TRY(ParsePortProto(r.PathOf("ExposedPorts"), p));
    c.exposed_ports.push_back(PortKey(port, udp));
  }
  std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
  c.exposed_ports.erase(std::unique(c.exposed_ports.begin(), c.exposed_ports.end()), c.exposed_ports.end());
  c.healthcheck = TRY(ParseHealth(r));
  // Attach flags are per-connection choices in moor (attach/start calls).
  for (const char* k : {"AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce", "ArgsEscaped"})
    (void)r.Take(k);
  return {};
}

// Whole-config rules that span sections.
Result<void> CheckConflicts(ContainerConfig& c, const std::vector<std::string>& anon_volumes) {
  const bool host = c.network_mode == "host";
  const bool shared = StartsWith(c.network_mode, "container:");
  if (!c.hostname.empty() && (host || shared))
    return Bad(
        "Hostname", Q(c.hostname),
        "cannot be set with network mode " + Q(c.network_mode) + " (the container shares that hostname)");
  if (!c.ports.empty() && (host || shared || c.network_mode == "none"))
    return Bad("HostConfig.PortBindings", Q(PortKey(c.ports[0].container_port, c.ports[0].udp)),
               "ports cannot be published with network mode " + Q(c.network_mode));
  if (c.auto_remove && c.restart.name != "no")
    return Bad("HostConfig.AutoRemove", "true",
               "cannot be combined with restart policy " + Q(c.restart.name));
  std::set<std::string> targets;
  for (const auto& m : c.mounts)
    if (!targets.insert(m.target).second)
      return Bad("HostConfig", Q(m.target),
                 "mounted twice (Binds, Mounts and Tmpfs must use different paths)");
  // Config.Volumes: anonymous volumes, unless something else is mounted there (Docker's rule).
  for (const auto& v : anon_volumes) {
    std::string target = TRY(ContainerPath("Volumes", v));
    if (!targets.insert(target).second) continue;
    MountSpec m;
    m.type = "volume";
    m.target = target;
    c.mounts.push_back(m);
  }
  return {};
}

// ---- state store form ----

json MountToJson(const MountSpec& m) {
  return {{"type", m.type},
          {"source", m.source},
          {"target", m.target},
          {"read_only", m.read_only},
          {"propagation", m.propagation},
          {"tmpfs_size", m.tmpfs_size},
          {"tmpfs_mode", m.tmpfs_mode},
          {"tmpfs_noexec", m.tmpfs_noexec}};
}

json HealthToJson(const HealthSpec& h) {
  return {{"test", h.test},
          {"interval_ns", h.interval_ns},
          {"timeout_ns", h.timeout_ns},
          {"start_period_ns", h.start_period_ns},
          {"retries", h.retries}};
}

template <class T>
T Get(const json& j, const char* key, T def) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? def : it->get<T>();
}

// ---- Docker inspect form ----

std::string BindString(const MountSpec& m) {
  std::string s = m.source + ":" + m.target;
  std::vector<std::string> opts;
  if (m.read_only) opts.emplace_back("ro");
  if (!m.propagation.empty()) opts.push_back(m.propagation);
  return opts.empty() ? s : s + ":" + Join(opts, ",");
}

std::string TmpfsString(const MountSpec& m) {
  std::vector<std::string> opts;
  if (m.read_only) opts.emplace_back("ro");
  if (m.tmpfs_noexec) opts.emplace_back("noexec");
  if (m.tmpfs_size) opts.push_back("size=" + std::to_string(m.tmpfs_size));
  if (m.tmpfs_mode) {
    char buf[32];  // "mode=" + up to 11 octal digits of a uint32_t
    snprintf(buf, sizeof buf, "mode=%o", m.tmpfs_mode);
    opts.emplace_back(buf);
  }
  return Join(opts, ",");
}

json InspectMount(const MountSpec& m) {
  json j = {{"Type", m.type}, {"Source", m.source}, {"Target", m.target}, {"ReadOnly", m.read_only}};
  if (m.type == "bind" && !m.propagation.empty()) j["BindOptions"] = {{"Propagation", m.propagation}};
  if (m.type == "tmpfs" && (m.tmpfs_size || m.tmpfs_mode))
    j["TmpfsOptions"] = {{"SizeBytes", m.tmpfs_size}, {"Mode", m.tmpfs_mode}};
  return j;
}

json StringsOrNull(const std::vector<std::string>& v) {
  return v.empty() ? json(nullptr) : json(v);
}

}  // namespace

Result<ContainerConfig> ParseCreateBody(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return FailInvalid("create body: not valid JSON");
  if (!j.is_object()) return FailInvalid("create body: expected a JSON object");
  ObjectReader r = TRY(ObjectReader::Open(&j, ""));
  ContainerConfig c;
  TRY(ParseConfigFields(r, c));
  std::vector<std::string> anon_volumes = TRY(r.Keys("Volumes"));
  TRY(ParseHostConfig(r, c));
  TRY(ParseNetworking(r, c));
  TRY(r.Finish());
  TRY(CheckConflicts(c, anon_volumes));
  return c;
}

std::string ToJson(const ContainerConfig& c) {
  json mounts = json::array(), ports = json::array();
  for (const auto& m : c.mounts) mounts.push_back(MountToJson(m));
  for (const auto& p : c.ports)
    ports.push_back({{"container_port", p.container_port},
                     {"udp", p.udp},
                     {"host_ip", p.host_ip},
                     {"host_port", p.host_port}});
  const ResourceSpec& r = c.resources;
  json j = {
      {"image", c.image},
      {"cmd", c.cmd},
      {"entrypoint", c.entrypoint ? json(*c.entrypoint) : json(nullptr)},
      {"env", c.env},
      {"user", c.user},
      {"working_dir", c.working_dir},
      {"hostname", c.hostname},
      {"tty", c.tty},
      {"open_stdin", c.open_stdin},
      {"labels", c.labels},
      {"stop_signal", c.stop_signal},
      {"stop_timeout", c.stop_timeout ? json(*c.stop_timeout) : json(nullptr)},
      {"exposed_ports", c.exposed_ports},
      {"healthcheck", c.healthcheck ? HealthToJson(*c.healthcheck) : json(nullptr)},
      {"mounts", mounts},
      {"ports", ports},
      {"network_mode", c.network_mode},
      {"ipv4_address", c.ipv4_address},
      {"network_aliases", c.network_aliases},
      {"restart", {{"name", c.restart.name}, {"max_retries", c.restart.max_retries}}},
      {"auto_remove", c.auto_remove},
      {"init", c.init},
      {"read_only_rootfs", c.read_only_rootfs},
      {"resources",
       {{"memory", r.memory},
        {"memory_swap", r.memory_swap},
        {"nano_cpus", r.nano_cpus},
        {"cpu_shares", r.cpu_shares},
        {"cpuset_cpus", r.cpuset_cpus},
        {"pids_limit", r.pids_limit},
        {"blkio_weight", r.blkio_weight},
        {"oom_kill_disable", r.oom_kill_disable}}},
      {"runtime", c.runtime},
  };
  return j.dump();
}

Result<ContainerConfig> FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return FailInvalid("stored container config: not a JSON object");
  using Strings = std::vector<std::string>;
  try {
    ContainerConfig c;
    c.image = Get<std::string>(j, "image", "");
    c.cmd = Get<Strings>(j, "cmd", {});
    if (auto it = j.find("entrypoint"); it != j.end() && !it->is_null()) c.entrypoint = it->get<Strings>();
    c.env = Get<Strings>(j, "env", {});
    c.user = Get<std::string>(j, "user", "");
    c.working_dir = Get<std::string>(j, "working_dir", "");
    c.hostname = Get<std::string>(j, "hostname", "");
    c.tty = Get(j, "tty", false);
    c.open_stdin = Get(j, "open_stdin", false);
    c.labels = Get<std::map<std::string, std::string>>(j, "labels", {});
    c.stop_signal = Get<std::string>(j, "stop_signal", "");
    if (auto it = j.find("stop_timeout"); it != j.end() && !it->is_null()) c.stop_timeout = it->get<int>();
    c.exposed_ports = Get<Strings>(j, "exposed_ports", {});
    if (auto it = j.find("healthcheck"); it != j.end() && !it->is_null()) {
      HealthSpec h;
      h.test = Get<Strings>(*it, "test", {});
      h.interval_ns = Get(*it, "interval_ns", h.interval_ns);
      h.timeout_ns = Get(*it, "timeout_ns", h.timeout_ns);
      h.start_period_ns = Get(*it, "start_period_ns", h.start_period_ns);
      h.retries = Get(*it, "retries", h.retries);
      c.healthcheck = h;
    }
    for (const auto& m : Get<json>(j, "mounts", json::array())) {
      c.mounts.push_back({.type = Get<std::string>(m, "type", ""),
                          .source = Get<std::string>(m, "source", ""),
                          .target = Get<std::string>(m, "target", ""),
                          .read_only = Get(m, "read_only", false),
                          .propagation = Get<std::string>(m, "propagation", ""),
                          .tmpfs_size = Get<int64_t>(m, "tmpfs_size", 0),
                          .tmpfs_mode = Get<uint32_t>(m, "tmpfs_mode", 0),
                          .tmpfs_noexec = Get(m, "tmpfs_noexec", false)});
    }
    for (const auto& p : Get<json>(j, "ports", json::array())) {
      c.ports.push_back({Get(p, "container_port", 0), Get(p, "udp", false),
                         Get<std::string>(p, "host_ip", ""), Get(p, "host_port", 0)});
    }
    c.network_mode = Get<std::string>(j, "network_mode", "bridge");
    c.ipv4_address = Get<std::string>(j, "ipv4_address", "");
    c.network_aliases = Get<Strings>(j, "network_aliases", {});
    json restart = Get<json>(j, "restart", json::object());
    c.restart.name = Get<std::string>(restart, "name", "no");
    c.restart.max_retries = Get(restart, "max_retries", 0);
    c.auto_remove = Get(j, "auto_remove", false);
    c.init = Get(j, "init", false);
    c.read_only_rootfs = Get(j, "read_only_rootfs", false);
    json res = Get<json>(j, "resources", json::object());
    ResourceSpec& r = c.resources;
    r.memory = Get<int64_t>(res, "memory", 0);
    r.memory_swap = Get<int64_t>(res, "memory_swap", 0);
    r.nano_cpus = Get<int64_t>(res, "nano_cpus", 0);
    r.cpu_shares = Get<int64_t>(res, "cpu_shares", 0);
    r.cpuset_cpus = Get<std::string>(res, "cpuset_cpus", "");
    r.pids_limit = Get<int64_t>(res, "pids_limit", 0);
    r.blkio_weight = Get(res, "blkio_weight", 0);
    r.oom_kill_disable = Get(res, "oom_kill_disable", false);
    c.runtime = Get<std::string>(j, "runtime", "");
    return c;
  } catch (const json::exception& e) {
    return FailInvalid(std::string("stored container config: ") + e.what());
  }
}

std::string InspectConfigJson(const ContainerConfig& c) {
  json exposed = json::object(), volumes = json::object();
  for (const auto& p : c.exposed_ports) exposed[p] = json::object();
  for (const auto& m : c.mounts)
    if (m.type == "volume" && m.source.empty()) volumes[m.target] = json::object();
  json j = {
      {"Hostname", c.hostname},
      {"Domainname", ""},
      {"User", c.user},
      {"Tty", c.tty},
      {"OpenStdin", c.open_stdin},
      {"StdinOnce", false},
      {"Env", StringsOrNull(c.env)},
      {"Cmd", StringsOrNull(c.cmd)},
      {"Image", c.image},
      {"Volumes", volumes.empty() ? json(nullptr) : volumes},
      {"WorkingDir", c.working_dir},
      {"Entrypoint", c.entrypoint ? json(*c.entrypoint) : json(nullptr)},
      {"OnBuild", nullptr},
      {"Labels", c.labels},
  };
  if (!exposed.empty()) j["ExposedPorts"] = exposed;
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (c.stop_timeout) j["StopTimeout"] = *c.stop_timeout;
  if (c.healthcheck) {
    const HealthSpec& h = *c.healthcheck;
    j["Healthcheck"] = {{"Test", h.test},
                        {"Interval", h.interval_ns},
                        {"Timeout", h.timeout_ns},
                        {"StartPeriod", h.start_period_ns},
                        {"Retries", h.retries}};
  }
  return j.dump();
}

std::string InspectHostConfigJson(const ContainerConfig& c) {
  json binds = json::array(), mounts = json::array(), tmpfs = json::object(), ports = json::object();
  for (const auto& m : c.mounts) {
    mounts.push_back(InspectMount(m));
    if (m.type == "tmpfs")
      tmpfs[m.target] = TmpfsString(m);
    else if (!m.source.empty())
      binds.push_back(BindString(m));
  }
  for (const auto& p : c.ports) {
    json& list = ports[PortKey(p.container_port, p.udp)];
    list.push_back({{"HostIp", p.host_ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
  }
  const ResourceSpec& r = c.resources;
  json j = {
      {"Binds", binds.empty() ? json(nullptr) : binds},
      {"Mounts", mounts},
      {"PortBindings", ports},
      {"NetworkMode", c.network_mode},
      {"RestartPolicy", {{"Name", c.restart.name}, {"MaximumRetryCount", c.restart.max_retries}}},
      {"AutoRemove", c.auto_remove},
      {"Init", c.init},
      {"ReadonlyRootfs", c.read_only_rootfs},
      {"Memory", r.memory},
      {"MemorySwap", r.memory_swap},
      {"NanoCpus", r.nano_cpus},
      {"CpuShares", r.cpu_shares},
      {"CpusetCpus", r.cpuset_cpus},
      {"PidsLimit", r.pids_limit ? json(r.pids_limit) : json(nullptr)},
      {"BlkioWeight", r.blkio_weight},
      {"OomKillDisable", r.oom_kill_disable},
      {"Runtime", c.runtime},
  };
  if (!tmpfs.empty()) j["Tmpfs"] = tmpfs;
  return j.dump();
}

}  // namespace moor::engine
