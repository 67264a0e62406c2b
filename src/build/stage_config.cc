// Config-only instructions: each changes the image config and adds no layer.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "image/core/config_edit.h"
#include "build/dockerignore.h"
#include "build/stage.h"
#include "common/strings.h"

namespace moor::build {
namespace {

// Shell form → the current SHELL (default /bin/sh -c) + the command text.
std::vector<std::string> CommandOf(const StageState& st, const Instruction& ins) {
  if (ins.json) return *ins.json;
  std::vector<std::string> argv = st.config.config.shell;
  if (argv.empty()) argv = {"/bin/sh", "-c"};
  argv.push_back(ins.args);
  return argv;
}

Result<std::string> ExposePort(const std::string& word) {
  std::string port = word, proto = "tcp";
  size_t slash = word.find('/');
  if (slash != std::string::npos) {
    port = word.substr(0, slash);
    proto = word.substr(slash + 1);
    for (char& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (proto != "tcp" && proto != "udp" && proto != "sctp")
    return FailInvalid("EXPOSE: invalid protocol in " + word + " (tcp, udp or sctp)");
  auto p = ParseUint(port);
  if (!p || *p == 0 || *p > 65535) return FailInvalid("EXPOSE: invalid port " + word + " (1-65535[/proto])");
  return port + "/" + proto;
}

std::string JsonList(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}

}  // namespace

VarMap ExpansionVars(const StageState& st) {
  VarMap vars = st.args;
  for (const auto& e : st.config.config.env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) vars[e.substr(0, eq)] = e.substr(eq + 1);
  }
  return vars;
}

std::string ResolveWorkdir(const std::string& current, const std::string& arg) {
  if (!arg.empty() && arg.front() == '/') return CleanPath(arg);
  std::string base = current.empty() ? "/" : current;
  return CleanPath(base + "/" + arg);
}

Result<int64_t> ParseGoDuration(std::string_view s) {
  if (s.empty()) return FailInvalid("empty duration");
  if (s == "0") return 0;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) return FailInvalid("invalid duration " + std::string(s) + " (e.g. 30s, 1m30s, 500ms)");
    double n = std::stod(std::string(s.substr(start, i - start)));
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(u, i - u);
    double mult = 0;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "µs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return FailInvalid("invalid duration " + std::string(s) + " (units: ns, us, ms, s, m, h)");
    total += static_cast<int64_t>(n * mult);
  }
  return total;
}

Result<std::string> ApplyConfigInstruction(StageState& st, const Instruction& ins, char escape) {
  VarMap vars = ExpansionVars(st);
  WordExpander x(vars, escape);
  auto& cfg = st.config.config;
  const std::string& kw = ins.keyword;

  if (kw == "ENV" || kw == "LABEL") {
    auto pairs = TRY(ParseKeyValues(ins.args, escape, kw));
    std::vector<std::string> shown;
    for (const auto& [k, v] : pairs) {
      std::string key = TRY(x.Word(k));
      std::string value = TRY(x.Word(v));
      if (kw == "ENV") {
        image::SetEnvVar(cfg.env, key, value);
      } else {
        cfg.labels[key] = value;
      }
      shown.push_back(key + "=" + value);
    }
    return kw + " " + Join(shown, " ");
  }
  if (kw == "MAINTAINER") {
    st.config.author = ins.args;
    cfg.labels["maintainer"] = ins.args;
    return "MAINTAINER " + ins.args;
  }
  if (kw == "CMD") {
    cfg.cmd = CommandOf(st, ins);
    st.cmd_set = true;
    return "CMD " + JsonList(*cfg.cmd);
  }
  if (kw == "ENTRYPOINT") {
    cfg.entrypoint = CommandOf(st, ins);
    // Docker: a new ENTRYPOINT resets a CMD inherited from the base image.
    if (!st.cmd_set) cfg.cmd.reset();
    return "ENTRYPOINT " + JsonList(*cfg.entrypoint);
  }
  if (kw == "SHELL") {
    cfg.shell = *ins.json;
    return "SHELL " + JsonList(cfg.shell);
  }
  if (kw == "EXPOSE") {
    std::vector<std::string> shown;
    for (const auto& w : TRY(x.Words(ins.args))) {
      std::string port = TRY(ExposePort(w));
      image::InsertSorted(cfg.exposed_ports, port);
      shown.push_back(port);
    }
    return "EXPOSE " + Join(shown, " ");
  }
  if (kw == "VOLUME") {
    std::vector<std::string> vols = ins.json ? *ins.json : TRY(x.Words(ins.args));
    std::vector<std::string> shown;
    for (auto& v : vols) {
      if (ins.json) v = TRY(x.Word(v));
      if (v.empty()) return FailInvalid("VOLUME specified can not be an empty string");
      image::InsertSorted(cfg.volumes, v);
      shown.push_back(v);
    }
    return "VOLUME [" + Join(shown, " ") + "]";
  }
  if (kw == "USER") {
    cfg.user = TRY(x.Word(ins.args));
    return "USER " + cfg.user;
  }
  if (kw == "STOPSIGNAL") {
    cfg.stop_signal = TRY(x.Word(ins.args));
    return "STOPSIGNAL " + cfg.stop_signal;
  }
  if (kw == "WORKDIR") {
    cfg.working_dir = ResolveWorkdir(cfg.working_dir, TRY(x.Word(ins.args)));
    return "WORKDIR " + cfg.working_dir;
  }
  if (kw == "ONBUILD") {
    cfg.onbuild.push_back(ins.trigger.at(0).original);
    return "ONBUILD " + ins.trigger.at(0).original;
  }
  if (kw == "HEALTHCHECK") {
    std::string first = ins.args.substr(0, 4);
    for (char& c : first) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    image::HealthConfig hc;
    if (first == "NONE") {
      hc.test = {"NONE"};
    } else {
      if (ins.json) {
        hc.test = {"CMD"};
        hc.test.insert(hc.test.end(), ins.json->begin(), ins.json->end());
      } else {
        hc.test = {"CMD-SHELL", std::string(Trim(std::string_view(ins.args).substr(3)))};
      }
      auto dur = [&](const char* name, int64_t& field) -> Result<void> {
        if (const Flag* f = ins.FindFlag(name))
          field = TRY_CTX(ParseGoDuration(f->value), std::string("--") + name);
        return {};
      };
      TRY(dur("interval", hc.interval_ns));
      TRY(dur("timeout", hc.timeout_ns));
      TRY(dur("start-period", hc.start_period_ns));
      if (const Flag* f = ins.FindFlag("retries")) {
        auto n = ParseInt(f->value);
        if (!n || *n < 0) return FailInvalid("--retries: not a non-negative number: " + f->value);
        hc.retries = static_cast<int>(*n);
      }
    }
    cfg.healthcheck = hc;
    return "HEALTHCHECK " + JsonList(hc.test);
  }
  return FailInvalid("internal: " + kw + " is not a config instruction");
}

}  // namespace moor::build
