// The app file parser's class, shared by app_parse.cc (top level) and
// app_parse_service.cc (services). Internal.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/app_internal.h"
#include "common/strings.h"

namespace moor::app::detail {

using Keys = std::vector<std::string_view>;
using Entry = std::pair<YAML::Node, YAML::Node>;

// "a mapping", "a list", "\"text\"": what a node is, for messages.
std::string KindName(const YAML::Node& n);
// Entries of a mapping with YAML merge keys ("<<: *anchor") expanded: keys
// written in the mapping win over merged ones.
void CollectEntries(const YAML::Node& map, std::vector<Entry>* out, std::set<std::string>* seen, int depth);

extern const Keys kServiceKeys;

class Parser {
 public:
  explicit Parser(Ctx ctx) : c_(std::move(ctx)) {}

  void File(const YAML::Node& root, detail::ParsedFile* out);

 private:
  // The mapping's entries, with unknown keys reported (x-* ignored) and dropped.
  std::vector<Entry> Map(const YAML::Node& n, const Keys& allowed, const std::string& where) {
    std::vector<Entry> out;
    if (!n.IsMap()) {
      c_.Error(n, where + ": expected a mapping, found " + KindName(n));
      return out;
    }
    // Duplicate keys (yaml-cpp keeps both).
    std::set<std::string> dup;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() != "<<" && !dup.insert(it->first.Scalar()).second)
        c_.Error(it->first, where + ": key \"" + it->first.Scalar() + "\" is given twice", "keep one of them");
    }
    std::vector<Entry> all;
    std::set<std::string> seen;
    CollectEntries(n, &all, &seen, 0);
    for (auto& e : all) {
      if (!e.first.IsScalar()) {
        c_.Error(e.first, where + ": keys must be strings");
        continue;
      }
      const std::string& k = e.first.Scalar();
      if (StartsWith(k, "x-")) continue;
      if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) {
        out.push_back(e);
        continue;
      }
      std::string near = detail::Closest(k, allowed);
      c_.Error(e.first, where + ": unknown key \"" + k + "\"",
               near.empty() ? "allowed here: " + JoinKeys(allowed) : "did you mean \"" + near + "\"?");
    }
    return out;
  }
  static std::string JoinKeys(const Keys& keys) {
    std::string s;
    for (auto k : keys) s += (s.empty() ? "" : ", ") + std::string(k);
    return s;
  }

  std::optional<std::string> Str(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) return n.Scalar();
    c_.Error(n, what + ": expected a string, found " + KindName(n));
    return std::nullopt;
  }
  std::optional<int64_t> Int(const YAML::Node& n, const std::string& what, int64_t min, int64_t max) {
    if (n.IsScalar()) {
      auto v = ParseInt(n.Scalar());
      if (v && *v >= min && *v <= max) return v;
    }
    c_.Error(n, what + ": expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", found " + KindName(n));
    return std::nullopt;
  }
  std::optional<bool> Bool(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      std::string v = n.Scalar();
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (v == "true" || v == "yes" || v == "on") return true;
      if (v == "false" || v == "no" || v == "off") return false;
    }
    c_.Error(n, what + ": expected true or false, found " + KindName(n));
    return std::nullopt;
  }
  std::optional<int64_t> Duration(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      if (auto v = ParseDurationNs(n.Scalar())) return v;
    }
    c_.Error(n, what + ": bad duration " + KindName(n), "write it like 10s, 1m30s or 500ms");
    return std::nullopt;
  }
  std::optional<int64_t> Size(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      auto v = ParseByteSize(n.Scalar());
      if (v && *v >= 0) return v;
    }
    c_.Error(n, what + ": bad size " + KindName(n), "write it like 256m, 1g or a number of bytes");
    return std::nullopt;
  }
  std::optional<double> Cpus(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      char* end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && *end == '\0' && std::isfinite(v) && v >= 0 && v <= 4096) return v;
    }
    c_.Error(n, what + ": bad CPU count " + KindName(n), "write a number like 0.5 or 2 (0: no limit)");
    return std::nullopt;
  }
  std::vector<std::string> StrList(const YAML::Node& n, const std::string& what) {
    std::vector<std::string> out;
    if (n.IsScalar()) return {n.Scalar()};
    if (!n.IsSequence()) {
      c_.Error(n, what + ": expected a string or a list of strings, found " + KindName(n));
      return out;
    }
    for (auto x : n) {
      if (auto s = Str(x, what)) out.push_back(*s);
    }
    return out;
  }
  // A mapping of scalars, or a list of "K=V" (a bare "K" takes the host's
  // value when `from_env`, else "").
  std::map<std::string, std::string> KvMap(const YAML::Node& n, const std::string& what, bool from_env) {
    std::map<std::string, std::string> out;
    auto host = [&](const std::string& k) {
      const char* v = std::getenv(k.c_str());
      if (v) out[k] = v;
    };
    if (n.IsMap()) {
      for (auto& [k, v] : EntriesOf(n)) {
        if (!k.IsScalar()) continue;
        if (v.IsNull()) {
          if (from_env)
            host(k.Scalar());
          else
            out[k.Scalar()] = "";
        } else if (v.IsScalar()) {
          out[k.Scalar()] = v.Scalar();
        } else {
          c_.Error(v, what + "." + k.Scalar() + ": expected a string, found " + KindName(v));
        }
      }
    } else if (n.IsSequence()) {
      for (auto x : n) {
        auto s = Str(x, what);
        if (!s) continue;
        auto eq = s->find('=');
        if (eq == 0 || s->empty()) {
          c_.Error(x, what + ": \"" + *s + "\" has no name", "write KEY=VALUE");
        } else if (eq == std::string::npos) {
          if (from_env)
            host(*s);
          else
            out[*s] = "";
        } else {
          out[s->substr(0, eq)] = s->substr(eq + 1);
        }
      }
    } else if (!n.IsNull()) {
      c_.Error(n, what + ": expected a mapping or a list of KEY=VALUE, found " + KindName(n));
    }
    return out;
  }
  // Map entries without key checking (for maps whose keys are user names).
  std::vector<Entry> EntriesOf(const YAML::Node& n) {
    std::vector<Entry> all;
    std::set<std::string> seen;
    if (n.IsMap()) CollectEntries(n, &all, &seen, 0);
    std::erase_if(all, [](const Entry& e) { return e.first.IsScalar() && StartsWith(e.first.Scalar(), "x-"); });
    return all;
  }

  std::string HostPath(const std::string& p) {
    std::filesystem::path path;
    if (p == "~" || StartsWith(p, "~/")) {
      const char* home = std::getenv("HOME");
      path = std::string(home ? home : "/root") + p.substr(1);
    } else {
      path = p;
    }
    if (path.is_relative()) path = std::filesystem::path(c_.dir) / path;
    std::string s = path.lexically_normal().string();
    if (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  }

  std::string Signal(const YAML::Node& n, const std::string& what, bool allow_none);
  std::optional<std::vector<std::string>> Command(const YAML::Node& n, const std::string& what);
  void Service(const std::string& name, const YAML::Node& key, const YAML::Node& n, ServiceSpec* s);
  void Build(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Ports(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void ShortPort(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Volumes(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Tmpfs(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void EnvFiles(const YAML::Node& n, const std::string& where, ServiceSpec* s, std::map<std::string, std::string>* env);
  void Healthcheck(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void DependsOn(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Networks(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Discovery(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Check(const YAML::Node& n, const std::string& where, CheckSpec* c);
  void Templates(const YAML::Node& n, const std::string& where, ServiceSpec* s);
  void Limits(const YAML::Node& n, const std::string& where, ServiceSpec* s, const std::string& form);
  void SetLimit(const char* which, const YAML::Node& n, const std::string& form);

  Ctx c_;
  // Per service: where each resource limit was set, to refuse setting one twice.
  std::map<std::string, std::string> limit_forms_;
};

}  // namespace moor::app::detail
