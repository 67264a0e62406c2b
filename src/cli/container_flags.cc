#include "cli/container_flags.h"

#include <unistd.h>

#include <cstdlib>
#include <set>

#include "cli/units.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

const std::set<std::string> kPropagations = {"shared", "rshared", "slave", "rslave", "private", "rprivate"};

Result<int> ParsePort(const std::string& s, const std::string& flag) {
  auto v = ParseUint(s);
  if (!v || *v == 0 || *v > 65535) return FailInvalid(flag + ": invalid port \"" + s + "\" (1-65535)");
  return static_cast<int>(*v);
}

// "80" or "8000-8010" → [first, last].
Result<std::pair<int, int>> ParsePortRange(const std::string& s, const std::string& flag) {
  auto dash = s.find('-');
  if (dash == std::string::npos) {
    int p = TRY(ParsePort(s, flag));
    return std::pair{p, p};
  }
  int lo = TRY(ParsePort(s.substr(0, dash), flag));
  int hi = TRY(ParsePort(s.substr(dash + 1), flag));
  if (hi < lo) return FailInvalid(flag + ": invalid port range \"" + s + "\"");
  return std::pair{lo, hi};
}

// Splits "80/udp" into port part and protocol (default tcp).
Result<std::string> SplitProto(std::string& port, const std::string& flag) {
  std::string proto = "tcp";
  if (auto slash = port.rfind('/'); slash != std::string::npos) {
    proto = port.substr(slash + 1);
    port = port.substr(0, slash);
  }
  if (proto != "tcp" && proto != "udp" && proto != "sctp") {
    return FailInvalid(flag + ": invalid protocol \"" + proto + "\" (tcp, udp or sctp)");
  }
  return proto;
}

// An absolute path, or "./x" / "../x" made absolute against the cwd.
std::string AbsoluteHostPath(const std::string& p) {
  if (p.empty() || p[0] == '/' || p[0] != '.') return p;
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return p;
  std::string cwd = buf;
  if (p == ".") return cwd;
  return cwd + "/" + (StartsWith(p, "./") ? p.substr(2) : p);
}

bool IsVolumeName(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

Result<bool> ParseBoolValue(const std::string& v, const std::string& what) {
  if (v.empty() || v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return FailInvalid(what + ": invalid boolean \"" + v + "\" (true or false)");
}

Result<int64_t> ParseIntFlag(const std::string& v, const std::string& flag, int64_t min, int64_t max) {
  auto n = ParseInt(v);
  if (!n || *n < min || *n > max) {
    return FailInvalid("--" + flag + ": invalid value \"" + v + "\" (an integer from " + std::to_string(min) +
                       " to " + std::to_string(max) + ")");
  }
  return *n;
}

// "NAME=value" kept; "NAME" alone takes the value from our environment and
// is dropped when unset, as docker does.
Result<void> AddEnv(const std::string& e, json& env, const std::string& where) {
  auto eq = e.find('=');
  std::string name = e.substr(0, eq);
  if (Trim(name).empty()) return FailInvalid(where + ": invalid variable \"" + e + "\" (want NAME=VALUE)");
  if (eq != std::string::npos) {
    env.push_back(e);
  } else if (const char* v = std::getenv(name.c_str())) {
    env.push_back(name + "=" + v);
  }
  return {};
}

Result<void> AddEnvFile(const std::string& path, json& env) {
  auto text = TRY_CTX(ReadFile(path), "--env-file " + path);
  int line_no = 0;
  for (auto& raw : Split(text, '\n')) {
    ++line_no;
    std::string line(Trim(raw));
    if (line.empty() || line[0] == '#') continue;
    TRY(AddEnv(line, env, "--env-file " + path + ":" + std::to_string(line_no)));
  }
  return {};
}

Result<void> ValidateCpuset(const std::string& s) {
  auto bad = [&] { return FailInvalid("--cpuset-cpus: invalid value \"" + s + "\" (e.g. 0-3 or 0,2)"); };
  if (s.empty()) return bad();
  for (auto& part : Split(s, ',')) {
    auto dash = part.find('-');
    auto lo = ParseUint(part.substr(0, dash));
    if (!lo) return bad();
    if (dash != std::string::npos) {
      auto hi = ParseUint(part.substr(dash + 1));
      if (!hi || *hi < *lo) return bad();
    }
  }
  return {};
}

Result<void> ValidateSignal(const std::string& s) {
  static const std::set<std::string> kNames = {
      "HUP",  "INT",  "QUIT", "ILL",    "TRAP",   "ABRT",  "BUS",  "FPE",  "KILL", "USR1", "SEGV",
      "USR2", "PIPE", "ALRM", "TERM",   "STKFLT", "CHLD",  "CONT", "STOP", "TSTP", "TTIN", "TTOU",
      "URG",  "XCPU", "XFSZ", "VTALRM", "PROF",   "WINCH", "IO",   "PWR",  "SYS"};
  if (auto n = ParseUint(s); n && *n >= 1 && *n <= 64) return {};
  std::string name = StartsWith(s, "SIG") ? s.substr(3) : s;
  if (kNames.count(name) || StartsWith(name, "RTMIN") || StartsWith(name, "RTMAX")) return {};
  return FailInvalid("invalid signal \"" + s + "\" (a name like SIGTERM or a number)");
}

}  // namespace

Result<void> AddPublish(const std::string& spec, json& exposed, json& bindings) {
  const std::string flag = "-p " + spec;
  std::string rest = spec;
  std::string proto = TRY(SplitProto(rest, flag));
  std::string ip;
  // An IPv6 host address comes bracketed: "[::1]:8080:80".
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find("]:");
    if (close == std::string::npos) return FailInvalid(flag + ": invalid IPv6 address");
    ip = rest.substr(1, close - 1);
    rest = rest.substr(close + 2);
    if (rest.find(':') == std::string::npos) return FailInvalid(flag + ": want IP:HOSTPORT:CONTAINERPORT");
    rest = ":" + rest;  // keep the 3-part shape below with the ip taken out
  }
  auto parts = Split(rest, ':');
  std::string host_port, ctr_port;
  if (parts.size() == 1) {
    ctr_port = parts[0];
  } else if (parts.size() == 2) {
    host_port = parts[0];
    ctr_port = parts[1];
  } else if (parts.size() == 3) {
    if (ip.empty()) ip = parts[0];
    host_port = parts[1];
    ctr_port = parts[2];
  } else {
    return FailInvalid(flag + ": want [[IP:]HOSTPORT:]CONTAINERPORT[/PROTO]");
  }
  if (ctr_port.empty()) return FailInvalid(flag + ": the container port is missing");
  if (parts.size() == 3 && ip.empty() && !StartsWith(spec, "[")) {
    return FailInvalid(flag + ": the host IP is empty; drop it (HOSTPORT:CONTAINERPORT)");
  }
  auto [clo, chi] = TRY(ParsePortRange(ctr_port, flag));
  int hlo = 0, hhi = 0;
  if (!host_port.empty()) {
    std::tie(hlo, hhi) = TRY(ParsePortRange(host_port, flag));
    // A host range for one container port lets the daemon pick within it.
    if (hhi - hlo != chi - clo && clo != chi) {
      return FailInvalid(flag + ": host and container port ranges differ in size");
    }
  }
  for (int p = clo; p <= chi; ++p) {
    std::string key = std::to_string(p) + "/" + proto;
    exposed[key] = json::object();
    std::string hp;
    if (!host_port.empty()) {
      hp = (clo == chi && hlo != hhi) ? host_port : std::to_string(hlo + (p - clo));
    }
    if (!bindings.contains(key)) bindings[key] = json::array();
    bindings[key].push_back({{"HostIp", ip}, {"HostPort", hp}});
  }
  return {};
}

Result<json> ParseRestartPolicy(const std::string& s) {
  auto bad = [&] {
    return FailInvalid("--restart: invalid policy \"" + s +
                       "\" (no, always, unless-stopped or on-failure[:MAX-RETRIES])");
  };
  auto colon = s.find(':');
  std::string name = s.substr(0, colon);
  int64_t max = 0;
  if (colon != std::string::npos) {
    if (name != "on-failure") return bad();
    auto n = ParseInt(s.substr(colon + 1));
    if (!n || *n < 0) return bad();
    max = *n;
  }
  if (name != "no" && name != "always" && name != "unless-stopped" && name != "on-failure") return bad();
  return json{{"Name", name}, {"MaximumRetryCount", max}};
}

Result<void> AddVolume(const std::string& spec, json& binds, json& mounts) {
  const std::string flag = "-v " + spec;
  auto parts = Split(spec, ':');
  if (parts.size() == 1) {
    if (spec.empty() || spec[0] != '/') return FailInvalid(flag + ": the container path must be absolute");
    mounts.push_back({{"Type", "volume"}, {"Source", ""}, {"Target", spec}, {"ReadOnly", false}});
    return {};
  }
  if (parts.size() > 3) return FailInvalid(flag + ": want SOURCE:TARGET[:OPTIONS]");
  std::string source = parts[0], target = parts[1];
  if (source.empty()) return FailInvalid(flag + ": the source is empty");
  if (target.empty() || target[0] != '/') return FailInvalid(flag + ": the container path must be absolute");
  bool is_bind = source[0] == '/' || source[0] == '.';
  if (!is_bind && !IsVolumeName(source)) {
    return FailInvalid(flag + ": \"" + source +
                       "\" is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
  }
  if (is_bind) source = AbsoluteHostPath(source);
  std::vector<std::string> opts;
  if (parts.size() == 3) {
    bool mode = false, prop = false, label = false;
    for (auto& o : Split(parts[2], ',')) {
      if (o == "ro" || o == "rw") {
        if (mode) return FailInvalid(flag + ": give only one of ro and rw");
        mode = true;
      } else if (kPropagations.count(o)) {
        if (!is_bind) return FailInvalid(flag + ": propagation (" + o + ") applies only to bind mounts");
        if (prop) return FailInvalid(flag + ": give only one propagation mode");
        prop = true;
      } else if (o == "z" || o == "Z") {
        if (label) return FailInvalid(flag + ": give only one of z and Z");
        label = true;
      } else if (o == "nocopy" && !is_bind) {
      } else {
        return FailInvalid(flag + ": unknown option \"" + o +
                           "\" (ro, rw, z, Z, nocopy, [r]shared, [r]slave, [r]private)");
      }
      opts.push_back(o);
    }
  }
  std::string out = source + ":" + target;
  if (!opts.empty()) out += ":" + Join(opts, ",");
  binds.push_back(out);
  return {};
}

Result<json> ParseMount(const std::string& spec) {
  const std::string flag = "--mount " + spec;
  std::string type = "volume", source, target, propagation;
  bool read_only = false;
  int64_t tmpfs_size = 0, tmpfs_mode = 0;
  bool has_size = false, has_mode = false;
  for (auto& field : Split(spec, ',')) {
    auto eq = field.find('=');
    std::string key(Trim(field.substr(0, eq)));
    std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (key == "type") {
      type = value;
      if (type != "bind" && type != "volume" && type != "tmpfs") {
        return FailInvalid(flag + ": type must be bind, volume or tmpfs");
      }
    } else if (key == "source" || key == "src") {
      source = value;
    } else if (key == "target" || key == "destination" || key == "dst") {
      target = value;
    } else if (key == "readonly" || key == "ro") {
      read_only = TRY(ParseBoolValue(value, flag));
    } else if (key == "bind-propagation") {
      if (!kPropagations.count(value)) {
        return FailInvalid(flag + ": bind-propagation must be one of [r]shared, [r]slave, [r]private");
      }
      propagation = value;
    } else if (key == "tmpfs-size") {
      tmpfs_size = TRY_CTX(ParseBytes(value), flag);
      has_size = true;
    } else if (key == "tmpfs-mode") {
      char* end = nullptr;
      long m = std::strtol(value.c_str(), &end, 8);
      if (value.empty() || *end || m < 0 || m > 07777)
        return FailInvalid(flag + ": tmpfs-mode must be octal");
      tmpfs_mode = m;
      has_mode = true;
    } else if (key == "volume-nocopy") {
      TRY(ParseBoolValue(value, flag));
    } else {
      return FailInvalid(flag + ": unknown key \"" + key + "\"");
    }
  }
  if (target.empty() || target[0] != '/') return FailInvalid(flag + ": target must be an absolute path");
  if (type == "bind") {
    if (source.empty()) return FailInvalid(flag + ": a bind mount needs source=HOST-PATH");
    source = AbsoluteHostPath(source);
    if (source[0] != '/') return FailInvalid(flag + ": the bind source must be an absolute path");
  }
  if (type == "tmpfs" && !source.empty()) return FailInvalid(flag + ": a tmpfs mount takes no source");
  if (!propagation.empty() && type != "bind") {
    return FailInvalid(flag + ": bind-propagation applies only to type=bind");
  }
  if ((has_size || has_mode) && type != "tmpfs") {
    return FailInvalid(flag + ": tmpfs-size and tmpfs-mode apply only to type=tmpfs");
  }
  json m = {{"Type", type}, {"Source", source}, {"Target", target}, {"ReadOnly", read_only}};
  if (!propagation.empty()) m["BindOptions"] = {{"Propagation", propagation}};
  if (has_size || has_mode) m["TmpfsOptions"] = {{"SizeBytes", tmpfs_size}, {"Mode", tmpfs_mode}};
  return m;
}

std::vector<FlagSpec> ContainerFlagSpecs(bool run) {
  std::vector<FlagSpec> s = {
      {"name", "", true, false},
      {"env", "e", true, true},
      {"env-file", "", true, true},
      {"label", "l", true, true},
      {"publish", "p", true, true},
      {"expose", "", true, true},
      {"volume", "v", true, true},
      {"mount", "", true, true},
      {"tmpfs", "", true, true},
      {"workdir", "w", true, false},
      {"user", "u", true, false},
      {"hostname", "h", true, false},
      {"entrypoint", "", true, false},
      {"tty", "t", false, false},
      {"interactive", "i", false, false},
      {"rm", "", false, false},
      {"init", "", false, false},
      {"read-only", "", false, false},
      {"restart", "", true, false},
      {"stop-signal", "", true, false},
      {"stop-timeout", "", true, false},
      {"network", "", true, false},
      {"net", "", true, false},
      {"ip", "", true, false},
      {"network-alias", "", true, true},
      {"memory", "m", true, false},
      {"memory-swap", "", true, false},
      {"cpus", "", true, false},
      {"cpu-shares", "c", true, false},
      {"cpuset-cpus", "", true, false},
      {"pids-limit", "", true, false},
      {"blkio-weight", "", true, false},
      {"oom-kill-disable", "", false, false},
      {"health-cmd", "", true, false},
      {"health-interval", "", true, false},
      {"health-timeout", "", true, false},
      {"health-retries", "", true, false},
      {"health-start-period", "", true, false},
      {"no-healthcheck", "", false, false},
      {"runtime", "", true, false},
  };
  if (run) {
    s.push_back({"detach", "d", false, false});
    s.push_back({"pull", "", true, false});
    s.push_back({"quiet", "q", false, false});
  }
  return s;
}

Result<ContainerOptions> ParseContainerArgs(const std::vector<std::string>& args, bool run) {
  const char* cmd = run ? "run" : "create";
  auto a = TRY(ParseCommand(args, ContainerFlagSpecs(run), /*stop_at_positional=*/true));
  if (a.Bool("help"))
    return FailInvalid(std::string("usage: moor ") + cmd + " [OPTIONS] IMAGE [COMMAND [ARG...]]");
  if (a.positional.empty()) {
    return FailInvalid(std::string(cmd) + " requires an image: moor " + cmd +
                       " [OPTIONS] IMAGE [COMMAND [ARG...]]");
  }
  ContainerOptions o;
  o.image = a.positional[0];
  o.name = a.Get("name");
  o.detach = a.Bool("detach");
  o.interactive = a.Bool("interactive");
  o.tty = a.Bool("tty");
  o.auto_remove = a.Bool("rm");
  o.quiet = a.Bool("quiet");
  o.pull = a.Get("pull", "missing");
  if (o.pull != "missing" && o.pull != "always" && o.pull != "never") {
    return FailInvalid("--pull: want missing, always or never");
  }
  if (a.Has("name") && !IsVolumeName(o.name)) {
    return FailInvalid("--name \"" + o.name + "\": invalid name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }

  json body = {{"Image", o.image}, {"HostConfig", json::object()}};
  json& hc = body["HostConfig"];
  if (a.positional.size() > 1) {
    body["Cmd"] = std::vector<std::string>(a.positional.begin() + 1, a.positional.end());
  }
  if (a.Has("entrypoint")) {
    // An empty --entrypoint clears the image's entrypoint (docker's meaning).
    std::string e = a.Get("entrypoint");
    body["Entrypoint"] = e.empty() ? json::array() : json::array({e});
  }
  json env = json::array();
  for (auto& f : a.All("env-file")) TRY(AddEnvFile(f, env));
  for (auto& e : a.All("env")) TRY(AddEnv(e, env, "-e"));
  if (!env.empty()) body["Env"] = env;
  if (a.Has("user")) body["User"] = a.Get("user");
  if (a.Has("workdir")) {
    std::string w = a.Get("workdir");
    if (w.empty() || w[0] != '/')
      return FailInvalid("-w \"" + w + "\": the working directory must be absolute");
    body["WorkingDir"] = w;
  }
  if (o.tty) body["Tty"] = true;
  if (o.interactive) body["OpenStdin"] = true;
  if (a.Has("hostname")) body["Hostname"] = a.Get("hostname");
  if (a.Has("label")) {
    json labels = json::object();
    for (auto& l : a.All("label")) {
      auto eq = l.find('=');
      if (l.empty() || eq == 0) return FailInvalid("--label \"" + l + "\": want KEY=VALUE");
      labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
    }
    body["Labels"] = labels;
  }
  if (a.Has("stop-signal")) {
    TRY_CTX(ValidateSignal(a.Get("stop-signal")), "--stop-signal");
    body["StopSignal"] = a.Get("stop-signal");
  }
  if (a.Has("stop-timeout"))
    body["StopTimeout"] = TRY(ParseIntFlag(a.Get("stop-timeout"), "stop-timeout", -1, 1 << 30));

  json exposed = json::object(), bindings = json::object();
  for (auto& p : a.All("publish")) TRY(AddPublish(p, exposed, bindings));
  for (auto& e : a.All("expose")) {
    std::string port = e;
    std::string proto = TRY(SplitProto(port, "--expose " + e));
    auto [lo, hi] = TRY(ParsePortRange(port, "--expose " + e));
    for (int p = lo; p <= hi; ++p) exposed[std::to_string(p) + "/" + proto] = json::object();
  }
  if (!exposed.empty()) body["ExposedPorts"] = exposed;
  if (!bindings.empty()) hc["PortBindings"] = bindings;

  // Health check: --no-healthcheck turns off the image's; --health-* set or override parts.
  bool any_health = false;
  for (auto* f :
       {"health-cmd", "health-interval", "health-timeout", "health-retries", "health-start-period"}) {
    any_health |= a.Has(f);
  }
  if (a.Bool("no-healthcheck")) {
    if (any_health) return FailInvalid("--no-healthcheck conflicts with the --health-* options");
    body["Healthcheck"] = {{"Test", {"NONE"}}};
  } else if (any_health) {
    json h = json::object();
    if (a.Has("health-cmd")) h["Test"] = {"CMD-SHELL", a.Get("health-cmd")};
    for (auto [flag, key] : {std::pair{"health-interval", "Interval"}, std::pair{"health-timeout", "Timeout"},
                             std::pair{"health-start-period", "StartPeriod"}}) {
      if (a.Has(flag)) h[key] = TRY_CTX(ParseDuration(a.Get(flag)), std::string("--") + flag);
    }
    if (a.Has("health-retries"))
      h["Retries"] = TRY(ParseIntFlag(a.Get("health-retries"), "health-retries", 0, 1000000));
    body["Healthcheck"] = h;
  }

  json binds = json::array(), mounts = json::array();
  for (auto& v : a.All("volume")) TRY(AddVolume(v, binds, mounts));
  for (auto& m : a.All("mount")) mounts.push_back(TRY(ParseMount(m)));
  if (!binds.empty()) hc["Binds"] = binds;
  if (!mounts.empty()) hc["Mounts"] = mounts;
  if (a.Has("tmpfs")) {
    json tmpfs = json::object();
    for (auto& t : a.All("tmpfs")) {
      auto colon = t.find(':');
      std::string path = t.substr(0, colon);
      if (path.empty() || path[0] != '/')
        return FailInvalid("--tmpfs \"" + t + "\": the path must be absolute");
      tmpfs[path] = colon == std::string::npos ? "" : t.substr(colon + 1);
    }
    hc["Tmpfs"] = tmpfs;
  }

  std::string network = a.Get("network", a.Get("net"));
  if (!network.empty()) hc["NetworkMode"] = network;
  if (a.Has("ip") || a.Has("network-alias")) {
    if (network.empty() || network == "bridge" || network == "host" || network == "none" ||
        StartsWith(network, "container:")) {
      return FailInvalid("--ip and --network-alias need a user-defined network (--network NAME)");
    }
    json ep = json::object();
    if (a.Has("ip")) ep["IPAMConfig"] = {{"IPv4Address", a.Get("ip")}};
    if (a.Has("network-alias")) ep["Aliases"] = a.All("network-alias");
    body["NetworkingConfig"] = {{"EndpointsConfig", {{network, ep}}}};
  }

  if (a.Has("restart")) {
    hc["RestartPolicy"] = TRY(ParseRestartPolicy(a.Get("restart")));
    if (o.auto_remove && hc["RestartPolicy"]["Name"] != "no") {
      return FailInvalid("conflicting options: --restart and --rm");
    }
  }
  if (o.auto_remove) hc["AutoRemove"] = true;
  if (a.Bool("init")) hc["Init"] = true;
  if (a.Bool("read-only")) hc["ReadonlyRootfs"] = true;
  if (a.Has("memory")) hc["Memory"] = TRY_CTX(ParseBytes(a.Get("memory")), "--memory");
  if (a.Has("memory-swap")) {
    std::string v = a.Get("memory-swap");
    hc["MemorySwap"] = v == "-1" ? int64_t{-1} : TRY_CTX(ParseBytes(v), "--memory-swap");
  }
  if (a.Has("cpus")) hc["NanoCpus"] = TRY(ParseNanoCpus(a.Get("cpus")));
  if (a.Has("cpu-shares")) hc["CpuShares"] = TRY(ParseIntFlag(a.Get("cpu-shares"), "cpu-shares", 0, 262144));
  if (a.Has("cpuset-cpus")) {
    TRY(ValidateCpuset(a.Get("cpuset-cpus")));
    hc["CpusetCpus"] = a.Get("cpuset-cpus");
  }
  if (a.Has("pids-limit"))
    hc["PidsLimit"] = TRY(ParseIntFlag(a.Get("pids-limit"), "pids-limit", -1, INT64_MAX));
  if (a.Has("blkio-weight")) {
    int64_t w = TRY(ParseIntFlag(a.Get("blkio-weight"), "blkio-weight", 0, 1000));
    if (w != 0 && w < 10)
      return FailInvalid("--blkio-weight: invalid value \"" + a.Get("blkio-weight") +
                         "\" (10 to 1000, or 0)");
    hc["BlkioWeight"] = w;
  }
  if (a.Bool("oom-kill-disable")) hc["OomKillDisable"] = true;
  if (a.Has("runtime")) hc["Runtime"] = a.Get("runtime");
  o.body = std::move(body);
  return o;
}

}  // namespace moor::cli
