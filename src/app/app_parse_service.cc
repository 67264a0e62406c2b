// Parsing one service of the app file (see app_parse.cc for the top level).

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "app/app_parser.h"
#include "app/code_release.h"
#include "common/file.h"
#include "common/strings.h"
#include "logship/format/multiline.h"

namespace moor::app::detail {

const Keys kServiceKeys = {"image",
                           "build",
                           "command",
                           "entrypoint",
                           "environment",
                           "env_file",
                           "ports",
                           "expose",
                           "volumes",
                           "tmpfs",
                           "replicas",
                           "deploy",
                           "resources",
                           "mem_limit",
                           "cpus",
                           "pids_limit",
                           "healthcheck",
                           "stop_signal",
                           "stop_grace_period",
                           "reload_signal",
                           "restart",
                           "depends_on",
                           "networks",
                           "labels",
                           "hostname",
                           "user",
                           "working_dir",
                           "profiles",
                           "service",
                           "templates",
                           "code",
                           "logging"};

void Parser::Service(const std::string& name, const YAML::Node& key, const YAML::Node& n, ServiceSpec* s) {
  std::string where = "services." + name;
  if (!detail::IsDnsLabel(name)) {
    std::string fixed;
    for (char ch : name) {
      char l = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      fixed += ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) ? l : '-';
    }
    c_.Error(key, "service name \"" + name + "\" is not DNS-safe",
             "use lower-case letters, digits and '-' (at most 63), e.g. \"" + fixed + "\"");
  }
  if (n.IsNull()) {
    c_.Error(key, where + ": the service has neither image nor build", "add image: NAME or build: DIR");
    return;
  }
  if (!n.IsMap()) {
    c_.Error(n, where + ": expected a mapping, found " + KindName(n), "write image: NAME and the service's other keys under it");
    return;
  }
  std::map<std::string, std::string> env, file_env;
  YAML::Node env_node, env_file_node;
  bool has_image = false;
  // The `logging:` block becomes the moor.log.* labels the daemon's log
  // shipper reads (docs/logs.md).
  std::map<std::string, std::string> log_labels;
  auto logging = [&](const YAML::Node& block, const std::string& at) {
    for (auto& [lk, lv] : Map(block, {"outputs", "multiline", "json"}, at)) {
      const std::string& lf = lk.Scalar();
      std::string lw = at + "." + lf;
      if (lf == "outputs") {
        std::vector<std::string> names;
        if (lv.IsScalar()) {
          if (auto x = Str(lv, lw)) names = {*x};
        } else {
          names = StrList(lv, lw);
        }
        for (const auto& o : names) {
          bool ok = !o.empty() && o.size() <= 32 && std::all_of(o.begin(), o.end(), [](char ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
          });
          if (!ok) c_.Error(lv, lw + ": \"" + o + "\" is not an output name", "name outputs of --log-output (a-z 0-9 _ -), or write none");
        }
        if (names.size() > 1 && std::find(names.begin(), names.end(), "none") != names.end())
          c_.Error(lv, lw + ": none with other outputs", "write none alone, or list the outputs");
        log_labels["moor.log.outputs"] = Join(names, ",");
      } else if (lf == "multiline") {
        for (auto& [mk, mv] : Map(lv, {"start"}, lw)) {
          auto x = Str(mv, lw + ".start");
          if (!x) continue;
          if (auto ok = logship::CheckStartPattern(*x); !ok) {
            c_.Error(mv, lw + ".start: " + ok.error().message(),
                     "write a POSIX extended regex matching the first line of an event, e.g. ^[0-9]{4}-");
          } else {
            log_labels["moor.log.multiline.start"] = *x;
          }
        }
      } else if (auto b = Bool(lv, lw)) {
        log_labels["moor.log.json"] = *b ? "true" : "false";
      }
    }
  };
  // The `code:` block. References to other services (`from`) are checked by
  // the validator; everything local to the block is checked here.
  auto code = [&](const YAML::Node& block, const std::string& at) {
    CodeSpec c;
    c.pos = PosOf(block);
    // (A default YAML::Node counts as defined, hence the optionals.)
    std::optional<YAML::Node> source_key, from_key;  // the keys, when given (their values may be bad)
    std::optional<YAML::Node> source_value;           // when the value is a string
    std::vector<YAML::Node> rolling_only;  // strategy, batch, path: not with from
    for (auto& [ck, cv] : Map(block, {"source", "strategy", "batch", "path", "from"}, at)) {
      const std::string& cf = ck.Scalar();
      std::string cw = at + "." + cf;
      if (cf == "source") {
        source_key.emplace(ck);
        if (auto x = Str(cv, cw)) c.source = *x, source_value.emplace(cv);
      } else if (cf == "from") {
        from_key.emplace(ck);
        c.pos = PosOf(cv);
        if (auto x = Str(cv, cw)) c.from = *x;
      } else if (cf == "strategy") {
        rolling_only.push_back(ck);
        auto x = Str(cv, cw);
        if (!x) continue;
        if (*x == "reload" || *x == "rolling") {
          c.strategy = *x;
        } else {
          std::string near = detail::Closest(*x, {"reload", "rolling"});
          c_.Error(cv, cw + ": unknown strategy \"" + *x + "\"",
                   near.empty() ? "write reload (flip /srv/releases/current and signal) or rolling (new containers)"
                                : "did you mean \"" + near + "\"?");
        }
      } else if (cf == "batch") {
        rolling_only.push_back(ck);
        if (auto x = Int(cv, cw, 1, 10000)) c.batch = static_cast<int>(*x);
      } else {
        rolling_only.push_back(ck);
        auto x = Str(cv, cw);
        if (!x) continue;
        std::string p = *x;
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        if (!StartsWith(p, "/") || p == "/") {
          c_.Error(cv, cw + ": \"" + *x + "\" is not an absolute path below /",
                   "write the path in the container where a rolling release is mounted, e.g. /srv/app");
        } else if (p == kReleasesMount || StartsWith(p, std::string(kReleasesMount) + "/")) {
          c_.Error(cv, cw + ": \"" + *x + "\" is inside " + kReleasesMount + ", where every release is mounted",
                   "pick another path, e.g. /srv/app");
        } else {
          c.path = p;
        }
      }
    }
    if (!block.IsMap()) return;
    if (from_key) {
      if (source_key)
        c_.Error(*source_key, at + ": source and from together",
                 "keep source (this service's own code) or from (the releases of another service)");
      for (auto& k : rolling_only)
        c_.Error(k, at + ": " + k.Scalar() + " with from",
                 "remove it: a from service follows the other service's releases and is never switched itself");
      if (c.from == name)
        c_.Error(c.pos, at + ".from: the service names itself", "write source: DIR, or the name of another service");
      if (!c.from.empty()) s->code = c;
      return;
    }
    if (!source_key) {
      c_.Error(block, at + ": source is missing", "write source: DIR (the code directory) or from: SERVICE");
      return;
    }
    if (!source_value) return;  // a bad value, already reported
    std::string shown = c.source;
    c.source = HostPath(c.source);
    std::error_code ec;
    if (!std::filesystem::exists(c.source, ec)) {
      c_.Error(*source_value, at + ".source: the code directory " + c.source + " does not exist",
               "create it, or fix the path (relative to the file's directory)");
      return;
    }
    if (!std::filesystem::is_directory(c.source, ec)) {
      c_.Error(*source_value, at + ".source: " + c.source + " is not a directory",
               "name the directory that holds the code, not \"" + shown + "\" itself");
      return;
    }
    s->code = c;
  };
  for (auto& [k, v] : Map(n, kServiceKeys, where)) {
    const std::string& f = k.Scalar();
    std::string w = where + "." + f;
    if (f == "image") {
      has_image = true;  // a bad value is reported as such, not as missing
      s->image_pos = PosOf(v);
      if (auto x = Str(v, w)) s->image = *x;
    } else if (f == "build") {
      Build(v, w, s);
    } else if (f == "command") {
      s->command = Command(v, w);
    } else if (f == "entrypoint") {
      s->entrypoint = Command(v, w);
    } else if (f == "environment") {
      env = KvMap(v, w, true);
    } else if (f == "env_file") {
      EnvFiles(v, w, s, &file_env);
    } else if (f == "ports") {
      Ports(v, w, s);
    } else if (f == "expose") {
      if (!v.IsSequence()) {
        c_.Error(v, w + ": expected a list of ports, found " + KindName(v));
        continue;
      }
      for (auto x : v) {
        auto p = Str(x, w);
        if (!p) continue;
        std::string num = *p;
        if (auto sl = num.find('/'); sl != std::string::npos) num = num.substr(0, sl);
        auto port = ParseInt(num);
        if (!port || *port < 1 || *port > 65535) {
          c_.Error(x, w + ": bad port \"" + *p + "\"", "write a port number from 1 to 65535");
        } else {
          s->expose.push_back(static_cast<uint16_t>(*port));
        }
      }
    } else if (f == "volumes") {
      Volumes(v, w, s);
    } else if (f == "tmpfs") {
      Tmpfs(v, w, s);
    } else if (f == "replicas") {
      if (auto r = Int(v, w, 0, 10000)) s->replicas = static_cast<int>(*r);
      SetLimit("replicas", v, "replicas");
    } else if (f == "deploy") {
      for (auto& [dk, dv] : Map(v, {"replicas", "resources"}, w)) {
        if (dk.Scalar() == "replicas") {
          if (auto r = Int(dv, w + ".replicas", 0, 10000)) s->replicas = static_cast<int>(*r);
          SetLimit("replicas", dv, "deploy.replicas");
        } else {
          for (auto& [rk, rv] : Map(dv, {"limits"}, w + ".resources"))
            Limits(rv, w + ".resources.limits", s, "deploy.resources.limits");
        }
      }
    } else if (f == "resources") {
      Limits(v, w, s, "resources");
    } else if (f == "mem_limit") {
      if (auto x = Size(v, w)) s->resources.memory = *x;
      SetLimit("memory", v, "mem_limit");
    } else if (f == "cpus") {
      if (auto x = Cpus(v, w)) s->resources.cpus = *x;
      SetLimit("cpus", v, "cpus");
    } else if (f == "pids_limit") {
      if (auto x = Int(v, w, 0, 1 << 22)) s->resources.pids = *x;
      SetLimit("pids", v, "pids_limit");
    } else if (f == "healthcheck") {
      Healthcheck(v, w, s);
    } else if (f == "stop_signal") {
      s->stop_signal = Signal(v, w, false);
    } else if (f == "reload_signal") {
      auto sig = Signal(v, w, true);
      if (!sig.empty()) s->reload_signal = sig;
    } else if (f == "stop_grace_period") {
      if (auto d = Duration(v, w)) s->stop_grace_period_ns = *d;
    } else if (f == "restart") {
      auto r = Str(v, w);
      if (!r) continue;
      if (*r == "no" || *r == "always" || *r == "unless-stopped" || *r == "on-failure") {
        s->restart.name = *r;
      } else if (StartsWith(*r, "on-failure:")) {
        auto nmax = ParseInt(r->substr(11));
        if (!nmax || *nmax < 0) {
          c_.Error(v, w + ": bad retry count in \"" + *r + "\"", "write on-failure:N with N ≥ 0");
        } else {
          s->restart.name = "on-failure";
          s->restart.max_retries = static_cast<int>(*nmax);
        }
      } else {
        std::string near = detail::Closest(*r, {"no", "always", "on-failure", "unless-stopped"});
        c_.Error(
            v, w + ": unknown restart policy \"" + *r + "\"",
            near.empty() ? "write no, always, on-failure[:N] or unless-stopped" : "did you mean \"" + near + "\"?");
      }
    } else if (f == "depends_on") {
      s->depends_on_pos = PosOf(k);
      DependsOn(v, w, s);
    } else if (f == "networks") {
      Networks(v, w, s);
    } else if (f == "labels") {
      s->labels = KvMap(v, w, false);
    } else if (f == "hostname") {
      if (auto x = Str(v, w)) s->hostname = *x;
    } else if (f == "user") {
      if (auto x = Str(v, w)) s->user = *x;
    } else if (f == "working_dir") {
      if (auto x = Str(v, w)) {
        s->working_dir = *x;
        if (!StartsWith(*x, "/"))
          c_.Error(v, w + ": \"" + *x + "\" is not an absolute path", "write a path starting with /");
      }
    } else if (f == "profiles") {
      s->profiles = StrList(v, w);
    } else if (f == "service") {
      Discovery(v, w, s);
    } else if (f == "templates") {
      Templates(v, w, s);
    } else if (f == "code") {
      code(v, w);
    } else if (f == "logging") {
      logging(v, w);
    }
  }
  for (auto& [lk, lv] : log_labels) {
    if (s->labels.count(lk)) {
      c_.Error(key, where + ": label " + lk + " and logging: both set it", "keep the logging: block");
    }
    s->labels[lk] = lv;
  }
  for (auto& [ek, ev] : env) file_env[ek] = ev;
  s->environment = std::move(file_env);
  if (!has_image && !s->build)
    c_.Error(key, where + ": the service has neither image nor build", "add image: NAME or build: DIR");
  if (s->networks.empty()) s->networks.push_back(ServiceNetwork{"default", {}, "", {}});
}

void Parser::SetLimit(const char* which, const YAML::Node& n, const std::string& form) {
  auto [it, fresh] = limit_forms_.emplace(which, form);
  if (!fresh && it->second != form)
    c_.Error(n, std::string(which) + " is given twice (" + it->second + " and " + form + ")", "keep one of them");
}

void Parser::Limits(const YAML::Node& n, const std::string& where, ServiceSpec* s, const std::string& form) {
  for (auto& [k, v] : Map(n, {"memory", "cpus", "pids"}, where)) {
    const std::string& f = k.Scalar();
    if (f == "memory") {
      if (auto x = Size(v, where + ".memory")) s->resources.memory = *x;
    } else if (f == "cpus") {
      if (auto x = Cpus(v, where + ".cpus")) s->resources.cpus = *x;
    } else {
      if (auto x = Int(v, where + ".pids", 0, 1 << 22)) s->resources.pids = *x;
    }
    SetLimit(f.c_str(), v, form + "." + f);
  }
}

std::string Parser::Signal(const YAML::Node& n, const std::string& what, bool allow_none) {
  static const std::set<std::string> kNames = {"HUP",  "INT",    "QUIT", "ILL",   "TRAP", "ABRT", "BUS",  "FPE",
                                               "KILL", "USR1",   "SEGV", "USR2",  "PIPE", "ALRM", "TERM", "STKFLT",
                                               "CHLD", "CONT",   "STOP", "TSTP",  "TTIN", "TTOU", "URG",  "XCPU",
                                               "XFSZ", "VTALRM", "PROF", "WINCH", "IO",   "PWR",  "SYS"};
  auto s = Str(n, what);
  if (!s) return "";
  if (allow_none && *s == "none") return "none";
  std::string up = *s;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char ch) { return std::toupper(ch); });
  if (StartsWith(up, "SIG")) up = up.substr(3);
  if (kNames.count(up)) return "SIG" + up;
  if (auto num = ParseInt(*s); num && *num >= 1 && *num <= 64) return *s;
  c_.Error(n, what + ": unknown signal \"" + *s + "\"",
           std::string("write a name like SIGTERM, SIGQUIT or SIGHUP") + (allow_none ? ", or none" : ""));
  return "";
}

std::optional<std::vector<std::string>> Parser::Command(const YAML::Node& n, const std::string& what) {
  if (n.IsNull()) return std::vector<std::string>{};
  if (n.IsScalar()) {
    auto words = ShellWords(n.Scalar());
    if (!words) {
      c_.Error(n, what + ": " + words.error().message(), "close the quote, or write the command as a list");
      return std::nullopt;
    }
    return *words;
  }
  if (n.IsSequence()) return StrList(n, what);
  c_.Error(n, what + ": expected a string or a list of strings, found " + KindName(n));
  return std::nullopt;
}

void Parser::Build(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  BuildSpec b;
  b.pos = PosOf(n);
  std::string ctx = ".";
  if (n.IsScalar()) {
    ctx = n.Scalar();
  } else {
    for (auto& [k, v] : Map(n, {"context", "dockerfile", "args"}, where)) {
      const std::string& f = k.Scalar();
      if (f == "context") {
        if (auto x = Str(v, where + ".context")) {
          ctx = *x;
          b.pos = PosOf(v);
        }
      } else if (f == "dockerfile") {
        if (auto x = Str(v, where + ".dockerfile")) b.dockerfile = *x;
      } else {
        b.args = KvMap(v, where + ".args", true);
      }
    }
  }
  b.context = HostPath(ctx);
  s->build = std::move(b);
}

void Parser::EnvFiles(const YAML::Node& n, const std::string& where, ServiceSpec* s,
                      std::map<std::string, std::string>* env) {
  std::vector<std::pair<YAML::Node, bool>> files;  // path node, required
  auto one = [&](const YAML::Node& x) {
    if (x.IsMap()) {
      YAML::Node path;
      bool required = true;
      for (auto& [k, v] : Map(x, {"path", "required"}, where)) {
        if (k.Scalar() == "path")
          path = v;
        else
          required = Bool(v, where + ".required").value_or(true);
      }
      if (!path.IsDefined())
        c_.Error(x, where + ": path is missing", "write path: FILE");
      else
        files.emplace_back(path, required);
    } else {
      files.emplace_back(x, true);
    }
  };
  if (n.IsSequence()) {
    for (auto x : n) one(x);
  } else {
    one(n);
  }
  for (auto& [node, required] : files) {
    auto p = Str(node, where);
    if (!p) continue;
    std::string abs = HostPath(*p);
    auto text = ReadFile(abs);
    if (!text) {
      if (required)
        c_.Error(node, where + ": cannot read \"" + *p + "\" (" + abs + "): " + text.error().message(),
                 "create the file or remove it from env_file");
      continue;
    }
    s->env_files.push_back(abs);
    for (auto& raw : Split(*text, '\n')) {
      std::string line(Trim(raw));
      if (line.empty() || line[0] == '#') continue;
      if (StartsWith(line, "export ")) line = std::string(Trim(line.substr(7)));
      auto eq = line.find('=');
      if (eq == std::string::npos) {
        if (const char* hv = std::getenv(line.c_str())) (*env)[line] = hv;
        continue;
      }
      std::string k(Trim(line.substr(0, eq))), v(Trim(line.substr(eq + 1)));
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
      (*env)[k] = v;
    }
  }
}

void Parser::ShortPort(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  std::string text = n.Scalar();
  PortSpec p;
  p.pos = PosOf(n);
  std::string rest = text;
  if (auto sl = rest.rfind('/'); sl != std::string::npos) {
    p.protocol = rest.substr(sl + 1);
    rest = rest.substr(0, sl);
  }
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      c_.Error(n, where + ": bad port \"" + text + "\"", "write [IP:]HOST:CONTAINER[/udp], IPv6 as [::1]:8080:80");
      return;
    }
    p.host_ip = rest.substr(1, close - 1);
    rest = rest.substr(close + 2);
  }
  auto parts = Split(rest, ':');
  std::string host, target;
  if (parts.size() == 1) {
    target = parts[0];
  } else if (parts.size() == 2) {
    host = parts[0];
    target = parts[1];
  } else if (parts.size() == 3 && p.host_ip.empty()) {
    p.host_ip = parts[0];
    host = parts[1];
    target = parts[2];
  } else {
    c_.Error(n, where + ": bad port \"" + text + "\"", "write [IP:]HOST:CONTAINER[/udp]");
    return;
  }
  if (host.find('-') != std::string::npos || target.find('-') != std::string::npos) {
    c_.Error(n, where + ": port ranges are not supported (\"" + text + "\")", "list each port on its own line");
    return;
  }
  auto t = ParseInt(target);
  auto h = host.empty() ? std::optional<int64_t>(0) : ParseInt(host);
  if (!t || *t < 1 || *t > 65535 || !h || *h < 0 || *h > 65535) {
    c_.Error(n, where + ": bad port \"" + text + "\"", "ports are numbers from 1 to 65535: [IP:]HOST:CONTAINER[/udp]");
    return;
  }
  if (p.protocol != "tcp" && p.protocol != "udp") {
    c_.Error(n, where + ": unknown protocol \"" + p.protocol + "\" in \"" + text + "\"", "write /tcp or /udp");
    return;
  }
  p.target = static_cast<uint16_t>(*t);
  p.published = static_cast<uint16_t>(*h);
  s->ports.push_back(p);
}

void Parser::Ports(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  if (!n.IsSequence()) {
    c_.Error(n, where + ": expected a list of ports, found " + KindName(n));
    return;
  }
  for (auto x : n) {
    if (x.IsScalar()) {
      ShortPort(x, where, s);
      continue;
    }
    PortSpec p;
    p.pos = PosOf(x);
    bool ok = true, has_target = false;
    for (auto& [k, v] : Map(x, {"target", "published", "host_ip", "protocol", "mode"}, where)) {
      const std::string& f = k.Scalar();
      if (f == "target") {
        auto t = Int(v, where + ".target", 1, 65535);
        if (t)
          p.target = static_cast<uint16_t>(*t), has_target = true;
        else
          ok = false;
      } else if (f == "published") {
        auto h = Int(v, where + ".published", 0, 65535);
        if (h)
          p.published = static_cast<uint16_t>(*h);
        else
          ok = false;
      } else if (f == "host_ip") {
        if (auto ip = Str(v, where + ".host_ip")) p.host_ip = *ip;
      } else if (f == "protocol") {
        if (auto pr = Str(v, where + ".protocol")) {
          p.protocol = *pr;
          if (*pr != "tcp" && *pr != "udp") {
            c_.Error(v, where + ".protocol: unknown protocol \"" + *pr + "\"", "write tcp or udp");
            ok = false;
          }
        }
      } else if (f == "mode") {
        auto m = Str(v, where + ".mode");
        if (m && *m != "host" && *m != "ingress")
          c_.Error(v, where + ".mode: unknown mode \"" + *m + "\"", "write host or ingress (both mean the same here)");
      }
    }
    if (x.IsMap() && !has_target && ok) {
      c_.Error(x, where + ": target is missing", "write target: CONTAINER_PORT");
      ok = false;
    }
    if (ok && x.IsMap()) s->ports.push_back(p);
  }
}

void Parser::Volumes(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  if (!n.IsSequence()) {
    c_.Error(n, where + ": expected a list of mounts, found " + KindName(n));
    return;
  }
  for (auto x : n) {
    MountSpec m;
    m.pos = PosOf(x);
    if (x.IsScalar()) {
      const std::string& text = x.Scalar();
      auto parts = Split(text, ':');
      std::string src, mode;
      if (parts.size() == 1) {
        m.target = parts[0];
      } else if (parts.size() == 2 || parts.size() == 3) {
        src = parts[0];
        m.target = parts[1];
        if (parts.size() == 3) mode = parts[2];
      } else {
        c_.Error(x, where + ": bad mount \"" + text + "\"", "write SOURCE:TARGET[:ro], e.g. ./code:/var/www:ro");
        continue;
      }
      bool bad_mode = false;
      for (auto& o : Split(mode, ',')) {
        if (o == "ro")
          m.read_only = true;
        else if (o.empty() || o == "rw" || o == "z" || o == "Z" || o == "cached" || o == "delegated" ||
                 o == "consistent" || o == "nocopy") {
        } else
          bad_mode = true;
      }
      if (bad_mode) {
        c_.Error(x, where + ": unknown mount option in \"" + text + "\"", "write ro or rw");
        continue;
      }
      if (src.empty()) {
        m.type = "volume";
      } else if (src[0] == '/' || src[0] == '.' || src[0] == '~') {
        m.type = "bind";
        m.source = HostPath(src);
      } else {
        m.type = "volume";
        m.source = src;
      }
    } else {
      YAML::Node tmpfs_node;
      for (auto& [k, v] : Map(x, {"type", "source", "target", "read_only", "tmpfs"}, where)) {
        const std::string& f = k.Scalar();
        if (f == "type") {
          if (auto t = Str(v, where + ".type")) {
            m.type = *t;
            if (*t != "volume" && *t != "bind" && *t != "tmpfs") {
              c_.Error(v, where + ".type: unknown mount type \"" + *t + "\"", "write volume, bind or tmpfs");
              m.type = "?";
            }
          }
        } else if (f == "source") {
          if (auto t = Str(v, where + ".source")) m.source = *t;
        } else if (f == "target") {
          if (auto t = Str(v, where + ".target")) m.target = *t;
        } else if (f == "read_only") {
          m.read_only = Bool(v, where + ".read_only").value_or(false);
        } else {
          tmpfs_node = v;
          for (auto& [tk, tv] : Map(v, {"size", "mode"}, where + ".tmpfs")) {
            if (tk.Scalar() == "size") {
              if (auto sz = Size(tv, where + ".tmpfs.size")) m.tmpfs_size = *sz;
            }
          }
        }
      }
      if (!x.IsMap()) continue;
      if (m.type.empty()) {
        c_.Error(x, where + ": type is missing", "write type: volume, bind or tmpfs");
        continue;
      }
      if (m.type == "?") continue;
      if (m.type == "bind") {
        if (m.source.empty()) {
          c_.Error(x, where + ": a bind mount needs a source", "write source: HOST_PATH");
          continue;
        }
        m.source = HostPath(m.source);
      }
      if (m.type == "tmpfs" && !m.source.empty()) c_.Error(x, where + ": a tmpfs mount has no source", "remove source");
      if (tmpfs_node.IsDefined() && m.type != "tmpfs")
        c_.Error(tmpfs_node, where + ": tmpfs options on a " + m.type + " mount", "remove them or write type: tmpfs");
    }
    if (m.target.empty() || m.target[0] != '/') {
      c_.Error(x, where + ": the target \"" + m.target + "\" is not an absolute path",
               "write the path in the container, starting with /");
      continue;
    }
    if (m.type == "bind" && !PathExists(m.source)) {
      c_.Error(x, where + ": the bind source " + m.source + " does not exist",
               "create it, or fix the path (relative paths start at the file's directory)");
      continue;
    }
    s->volumes.push_back(m);
  }
}

void Parser::Tmpfs(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  std::vector<YAML::Node> items;
  if (n.IsSequence()) {
    for (auto x : n) items.push_back(x);
  } else {
    items.push_back(n);
  }
  for (auto& x : items) {
    auto text = Str(x, where);
    if (!text) continue;
    MountSpec m;
    m.type = "tmpfs";
    m.pos = PosOf(x);
    auto colon = text->find(':');
    m.target = text->substr(0, colon);
    if (colon != std::string::npos) {
      for (auto& o : Split(text->substr(colon + 1), ',')) {
        if (StartsWith(o, "size=")) {
          auto sz = ParseByteSize(o.substr(5));
          if (!sz || *sz < 0)
            c_.Error(x, where + ": bad size in \"" + *text + "\"", "write size=64m");
          else
            m.tmpfs_size = *sz;
        }
      }
    }
    if (m.target.empty() || m.target[0] != '/') {
      c_.Error(x, where + ": \"" + m.target + "\" is not an absolute path", "write PATH[:size=64m]");
      continue;
    }
    s->volumes.push_back(m);
  }
}

void Parser::Healthcheck(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  app::Healthcheck h;
  for (auto& [k, v] : Map(n, {"test", "interval", "timeout", "retries", "start_period", "disable"}, where)) {
    const std::string& f = k.Scalar();
    std::string w = where + "." + f;
    if (f == "test") {
      if (v.IsScalar()) {
        h.test = {"CMD-SHELL", v.Scalar()};
      } else {
        h.test = StrList(v, w);
        if (!h.test.empty() && h.test[0] != "CMD" && h.test[0] != "CMD-SHELL" && h.test[0] != "NONE") {
          c_.Error(v, w + ": a list starts with CMD, CMD-SHELL or NONE, not \"" + h.test[0] + "\"",
                   "write [\"CMD\", \"prog\", \"arg\"] or a plain string for the shell");
        }
      }
    } else if (f == "interval") {
      if (auto d = Duration(v, w)) h.interval_ns = *d;
    } else if (f == "timeout") {
      if (auto d = Duration(v, w)) h.timeout_ns = *d;
    } else if (f == "start_period") {
      if (auto d = Duration(v, w)) h.start_period_ns = *d;
    } else if (f == "retries") {
      if (auto r = Int(v, w, 0, 1000)) h.retries = static_cast<int>(*r);
    } else {
      h.disable = Bool(v, w).value_or(false);
    }
  }
  if (h.test.size() == 1 && h.test[0] != "NONE")
    c_.Error(n["test"], where + ".test: " + h.test[0] + " without a command", "write [\"CMD\", \"prog\", \"arg\"]");
  if (!h.test.empty() && h.test[0] == "NONE") h.disable = true;
  if (h.disable) h.test = {"NONE"};
  s->healthcheck = h;
}

void Parser::DependsOn(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  if (n.IsSequence()) {
    for (auto x : n) {
      if (auto name = Str(x, where)) s->depends_on.push_back(Dependency{*name, "service_started", PosOf(x)});
    }
    return;
  }
  if (!n.IsMap()) {
    c_.Error(n, where + ": expected a list of services or a mapping, found " + KindName(n));
    return;
  }
  for (auto& [k, v] : EntriesOf(n)) {
    Dependency d{k.Scalar(), "service_started", PosOf(k)};
    if (!v.IsNull()) {
      for (auto& [ck, cv] : Map(v, {"condition"}, where + "." + d.service)) {
        (void)ck;
        auto c = Str(cv, where + "." + d.service + ".condition");
        if (!c) continue;
        if (*c == "service_started" || *c == "service_healthy" || *c == "service_completed_successfully") {
          d.condition = *c;
        } else {
          std::string near =
              detail::Closest(*c, {"service_started", "service_healthy", "service_completed_successfully"});
          c_.Error(cv, where + "." + d.service + ".condition: unknown condition \"" + *c + "\"",
                   near.empty() ? "write service_started, service_healthy or service_completed_successfully"
                                : "did you mean \"" + near + "\"?");
        }
      }
    }
    s->depends_on.push_back(d);
  }
}

void Parser::Networks(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  if (n.IsSequence()) {
    for (auto x : n) {
      if (auto name = Str(x, where)) s->networks.push_back(ServiceNetwork{*name, {}, "", PosOf(x)});
    }
    return;
  }
  if (!n.IsMap()) {
    c_.Error(n, where + ": expected a list of networks or a mapping, found " + KindName(n));
    return;
  }
  for (auto& [k, v] : EntriesOf(n)) {
    ServiceNetwork net{k.Scalar(), {}, "", PosOf(k)};
    if (!v.IsNull()) {
      for (auto& [nk, nv] : Map(v, {"aliases", "ipv4_address"}, where + "." + net.name)) {
        if (nk.Scalar() == "aliases")
          net.aliases = StrList(nv, where + "." + net.name + ".aliases");
        else if (auto ip = Str(nv, where + "." + net.name + ".ipv4_address"))
          net.ipv4_address = *ip;
      }
    }
    s->networks.push_back(net);
  }
}

void Parser::Check(const YAML::Node& n, const std::string& where, CheckSpec* c) {
  static const Keys kTypes = {"tcp", "http", "https", "fastcgi", "exec", "ttl", "docker", "none"};
  auto set_type = [&](const YAML::Node& at, const std::string& t) {
    if (std::find(kTypes.begin(), kTypes.end(), t) == kTypes.end()) {
      std::string near = detail::Closest(t, kTypes);
      c_.Error(at, where + ": unknown check type \"" + t + "\"",
               near.empty() ? "write tcp, http, https, fastcgi, exec, ttl, docker or none"
                            : "did you mean \"" + near + "\"?");
      return;
    }
    c->type = t;
  };
  if (n.IsScalar()) {  // "http:/ping", "tcp", "exec:cmd"
    const std::string& text = n.Scalar();
    auto colon = text.find(':');
    set_type(n, text.substr(0, colon));
    if (colon != std::string::npos) c->path = text.substr(colon + 1);
    return;
  }
  for (auto& [k, v] : Map(n,
                          {"type", "path", "port", "interval", "timeout", "status", "body", "success_before_passing",
                           "failures_before_critical", "deregister_critical_after", "ttl", "tls_skip_verify"},
                          where)) {
    const std::string& f = k.Scalar();
    std::string w = where + "." + f;
    if (f == "type") {
      if (auto t = Str(v, w)) set_type(v, *t);
    } else if (f == "path") {
      if (auto t = Str(v, w)) c->path = *t;
    } else if (f == "port") {
      if (auto p = Int(v, w, 1, 65535)) c->port = static_cast<int>(*p);
    } else if (f == "interval") {
      if (auto d = Duration(v, w)) c->interval_ns = *d;
    } else if (f == "timeout") {
      if (auto d = Duration(v, w)) c->timeout_ns = *d;
    } else if (f == "status") {
      if (auto p = Int(v, w, 100, 599)) c->status = static_cast<int>(*p);
    } else if (f == "body") {
      if (auto t = Str(v, w)) c->body = *t;
    } else if (f == "success_before_passing") {
      if (auto p = Int(v, w, 0, 1000)) c->success_before_passing = static_cast<int>(*p);
    } else if (f == "failures_before_critical") {
      if (auto p = Int(v, w, 0, 1000)) c->failures_before_critical = static_cast<int>(*p);
    } else if (f == "deregister_critical_after") {
      if (auto d = Duration(v, w)) c->deregister_critical_after_ns = *d;
    } else if (f == "ttl") {
      if (auto d = Duration(v, w)) c->ttl_ns = *d;
    } else {
      c->tls_skip_verify = Bool(v, w).value_or(false);
    }
  }
  if (n.IsMap() && c->type.empty() && !n["type"].IsDefined())
    c_.Error(n, where + ": type is missing", "write type: tcp, http, fastcgi, exec, ttl, docker or none");
  bool needs_path = c->type == "http" || c->type == "https" || c->type == "fastcgi" || c->type == "exec";
  if (needs_path && c->path.empty())
    c_.Error(n, where + ": a " + c->type + " check needs a path",
             c->type == "exec" ? "write path: COMMAND" : "write path: /ping");
}

void Parser::Discovery(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  DiscoverySpec d;
  d.name = s->name;
  for (auto& [k, v] : Map(n, {"name", "port", "tags", "meta", "drain", "ignore", "check"}, where)) {
    const std::string& f = k.Scalar();
    std::string w = where + "." + f;
    if (f == "name") {
      if (auto t = Str(v, w)) {
        d.name = *t;
        if (!detail::IsDnsLabel(*t))
          c_.Error(v, w + ": \"" + *t + "\" is not DNS-safe", "use lower-case letters, digits and '-'");
      }
    } else if (f == "port") {
      if (auto p = Int(v, w, 1, 65535)) d.port = static_cast<int>(*p);
    } else if (f == "tags") {
      d.tags = StrList(v, w);
    } else if (f == "meta") {
      d.meta = KvMap(v, w, false);
    } else if (f == "drain") {
      if (auto x = Duration(v, w)) d.drain_ns = *x;
    } else if (f == "ignore") {
      d.ignore = Bool(v, w).value_or(false);
    } else {
      CheckSpec c;
      Check(v, w, &c);
      d.check = c;
    }
  }
  s->service = d;
}

void Parser::Templates(const YAML::Node& n, const std::string& where, ServiceSpec* s) {
  if (!n.IsSequence()) {
    c_.Error(n, where + ": expected a list of {source, destination}, found " + KindName(n));
    return;
  }
  for (auto x : n) {
    TemplateSpec t;
    t.pos = PosOf(x);
    YAML::Node src_node;
    for (auto& [k, v] : Map(x, {"source", "destination", "wait"}, where)) {
      const std::string& f = k.Scalar();
      if (f == "source") {
        if (auto p = Str(v, where + ".source")) t.source = *p, src_node = v;
      } else if (f == "destination") {
        if (auto p = Str(v, where + ".destination")) {
          t.destination = *p;
          if (!StartsWith(*p, "/"))
            c_.Error(v, where + ".destination: \"" + *p + "\" is not an absolute path",
                     "write the path in the container, starting with /");
        }
      } else if (auto w = Str(v, where + ".wait")) {
        auto colon = w->find(':');
        auto lo = ParseDurationNs(w->substr(0, colon));
        auto hi = colon == std::string::npos ? lo : ParseDurationNs(w->substr(colon + 1));
        if (!lo || !hi || *hi < *lo) {
          c_.Error(v, where + ".wait: bad wait \"" + *w + "\"", "write MIN[:MAX] like 200ms:2s");
        } else {
          t.wait_min_ns = *lo;
          t.wait_max_ns = colon == std::string::npos ? std::max(*lo, t.wait_max_ns) : *hi;
        }
      }
    }
    if (!x.IsMap()) continue;
    if (t.source.empty() || t.destination.empty()) {
      c_.Error(x, where + ": a template needs source and destination", "write {source: FILE, destination: /PATH}");
      continue;
    }
    t.source = HostPath(t.source);
    if (!PathExists(t.source)) {
      c_.Error(src_node, where + ".source: " + t.source + " does not exist",
               "create it, or fix the path (relative to the file's directory)");
      continue;
    }
    s->templates.push_back(t);
  }
}

}  // namespace moor::app::detail
