// Parsing moor.yaml / docker-compose.yml into the model. Every problem is
// collected as a Diagnostic at the YAML node it concerns; parsing goes on
// after an error so that one run reports them all.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "app/app_parser.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::app {

using detail::Ctx;
using detail::Parser;
using detail::PosOf;

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (pos.line > 0) out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  out += ": " + message;
  if (!hint.empty()) out += " — " + hint;
  return out;
}

Result<std::vector<std::string>> ShellWords(const std::string& s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else if (c == '\'') {
      auto end = s.find('\'', i + 1);
      if (end == std::string::npos) return FailInvalid("unterminated ' in \"" + s + "\"");
      cur += s.substr(i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && std::string_view("\"\\$`\n").find(s[j + 1]) != std::string_view::npos)
          ++j;
        cur += s[j];
      }
      if (j >= s.size()) return FailInvalid("unterminated \" in \"" + s + "\"");
      i = j;
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 < s.size()) cur += s[++i];
      in_word = true;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

namespace detail {

Pos PosOf(const YAML::Node& n) {
  if (!n.IsDefined()) return {};
  auto m = n.Mark();
  if (m.is_null()) return {};
  return Pos{m.line + 1, m.column + 1};
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  size_t best_d = 3;
  for (auto c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "\"" + n.Scalar() + "\"";
    default:
      return "nothing";
  }
}

void CollectEntries(const YAML::Node& map, std::vector<Entry>* out, std::set<std::string>* seen, int depth) {
  std::vector<YAML::Node> merges;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
    if (k == "<<") {
      merges.push_back(it->second);
      continue;
    }
    if (seen->insert(k).second) out->emplace_back(it->first, it->second);
  }
  if (depth > 16) return;
  for (auto& m : merges) {
    if (m.IsMap()) {
      CollectEntries(m, out, seen, depth + 1);
    } else if (m.IsSequence()) {
      for (auto x : m) {
        if (x.IsMap()) CollectEntries(x, out, seen, depth + 1);
      }
    }
  }
}

namespace {

const Keys kTopKeys = {"name", "services", "networks", "volumes", "version"};

}  // namespace

void Parser::File(const YAML::Node& root, detail::ParsedFile* out) {
  AppFile& app = out->app;
  if (root.IsNull() || !root.IsDefined()) {
    c_.Error(Pos{1, 1}, "the file is empty", "declare at least one service under services:");
    return;
  }
  YAML::Node services, networks, volumes;
  for (auto& [k, v] : Map(root, kTopKeys, "top level")) {
    const std::string& key = k.Scalar();
    if (key == "name") {
      if (auto s = Str(v, "name")) {
        app.name = *s;
        bool ok = !s->empty() && std::all_of(s->begin(), s->end(), [](char ch) {
          return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        });
        if (!ok)
          c_.Error(v, "name: \"" + *s + "\" is not a valid project name",
                   "use lower-case letters, digits, '-' and '_'");
      }
    } else if (key == "services") {
      services = v;
    } else if (key == "networks") {
      networks = v;
    } else if (key == "volumes") {
      volumes = v;
    }  // version: compose's, ignored
  }
  if (app.name.empty()) {
    std::string base = std::filesystem::path(c_.dir).filename().string();
    for (char ch : base) {
      char l = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_') app.name += l;
    }
    if (app.name.empty()) app.name = "default";
  }

  // Top-level networks and volumes.
  if (networks.IsDefined() && !networks.IsNull()) {
    if (!networks.IsMap()) c_.Error(networks, "networks: expected a mapping, found " + KindName(networks));
    for (auto& [k, v] : EntriesOf(networks)) {
      std::string key = k.Scalar(), where = "networks." + key;
      NetworkSpec net;
      net.name = app.name + "_" + key;
      if (!v.IsNull()) {
        for (auto& [nk, nv] : Map(v, {"name", "driver", "external", "internal", "labels", "ipam"}, where)) {
          const std::string& f = nk.Scalar();
          if (f == "name") {
            if (auto s = Str(nv, where + ".name")) net.name = *s;
          } else if (f == "driver") {
            if (auto s = Str(nv, where + ".driver")) {
              net.driver = *s;
              if (*s != "bridge")
                c_.Error(nv, where + ".driver: moor networks are bridges, not \"" + *s + "\"",
                         "remove driver or write bridge");
            }
          } else if (f == "external") {
            net.external = Bool(nv, where + ".external").value_or(false);
          } else if (f == "internal") {
            net.internal = Bool(nv, where + ".internal").value_or(false);
          } else if (f == "labels") {
            net.labels = KvMap(nv, where + ".labels", false);
          } else if (f == "ipam") {
            for (auto& [ik, iv] : Map(nv, {"config", "driver"}, where + ".ipam")) {
              if (ik.Scalar() != "config") continue;
              if (!iv.IsSequence()) {
                c_.Error(iv, where + ".ipam.config: expected a list, found " + KindName(iv));
                continue;
              }
              for (auto cfg : iv) {
                for (auto& [ck, cv] : Map(cfg, {"subnet", "gateway"}, where + ".ipam.config")) {
                  if (ck.Scalar() == "subnet") {
                    if (auto s = Str(cv, where + ".ipam.config.subnet")) net.subnets.push_back(*s);
                  }
                }
              }
            }
          }
        }
      }
      if (net.external && !v.IsNull() && !v["name"].IsDefined()) net.name = key;
      app.networks[key] = net;
      out->declared_networks.insert(key);
    }
  }
  if (!app.networks.count("default")) {
    NetworkSpec def;
    def.name = app.name + "_default";
    app.networks["default"] = def;
  }
  out->declared_networks.insert("default");
  if (volumes.IsDefined() && !volumes.IsNull()) {
    if (!volumes.IsMap()) c_.Error(volumes, "volumes: expected a mapping, found " + KindName(volumes));
    for (auto& [k, v] : EntriesOf(volumes)) {
      std::string key = k.Scalar(), where = "volumes." + key;
      VolumeSpec vol;
      vol.name = app.name + "_" + key;
      bool named = false;
      if (!v.IsNull()) {
        for (auto& [vk, vv] : Map(v, {"name", "driver", "external", "labels"}, where)) {
          const std::string& f = vk.Scalar();
          if (f == "name") {
            if (auto s = Str(vv, where + ".name")) {
              vol.name = *s;
              named = true;
            }
          } else if (f == "driver") {
            if (auto s = Str(vv, where + ".driver")) {
              vol.driver = *s;
              if (*s != "local")
                c_.Error(vv, where + ".driver: moor has local volumes only, not \"" + *s + "\"",
                         "remove driver or write local");
            }
          } else if (f == "external") {
            vol.external = Bool(vv, where + ".external").value_or(false);
          } else if (f == "labels") {
            vol.labels = KvMap(vv, where + ".labels", false);
          }
        }
      }
      if (vol.external && !named) vol.name = key;
      app.volumes[key] = vol;
      out->declared_volumes.insert(key);
    }
  }

  if (!services.IsDefined() || services.IsNull()) {
    c_.Error(PosOf(root), "no services: the file declares none", "add a services: mapping with at least one service");
    return;
  }
  if (!services.IsMap()) {
    c_.Error(services, "services: expected a mapping of service names, found " + KindName(services));
    return;
  }
  if (services.size() == 0) c_.Error(services, "services: the file declares none", "add at least one service");
  for (auto& [k, v] : EntriesOf(services)) {
    if (!k.IsScalar()) {
      c_.Error(k, "services: a service name must be a string, found " + KindName(k));
      continue;
    }
    ServiceSpec s;
    s.name = k.Scalar();
    s.pos = PosOf(k);
    limit_forms_.clear();
    Service(s.name, k, v, &s);
    if (s.image.empty() && s.build) s.image = app.name + "-" + s.name;
    app.services[s.name] = std::move(s);
  }
}

}  // namespace detail

AppFile ParseAppFile(const std::string& text, const std::string& path, const std::vector<std::string>& profiles,
                     std::vector<Diagnostic>* errors) {
  Ctx ctx;
  ctx.file = path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec).lexically_normal();
  ctx.dir = abs.parent_path().string();
  ctx.errors = errors;
  detail::ParsedFile parsed;
  parsed.app.path = abs.string();
  parsed.app.dir = ctx.dir;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ctx.Error(Pos{e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg, "fix the syntax at this place");
    return parsed.app;
  }
  try {
    detail::Interpolate(ctx, root);
    Parser(ctx).File(root, &parsed);
  } catch (const std::exception& e) {  // yaml-cpp throws on what the checks above missed
    ctx.Error(Pos{}, std::string("cannot read the file: ") + e.what());
    return parsed.app;
  }
  // Profiles: services without profiles always, others when one is active.
  std::set<std::string> enabled;
  bool all = std::find(profiles.begin(), profiles.end(), "*") != profiles.end();
  for (auto& [name, s] : parsed.app.services) {
    bool on = s.profiles.empty() || all;
    for (auto& p : s.profiles) on = on || std::find(profiles.begin(), profiles.end(), p) != profiles.end();
    if (on) enabled.insert(name);
  }
  detail::Validate(ctx, parsed, enabled);
  std::stable_sort(errors->begin(), errors->end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
  std::erase_if(parsed.app.services, [&](const auto& kv) { return !enabled.count(kv.first); });
  return parsed.app;
}

Result<AppFile> LoadAppFile(const std::string& path, const std::vector<std::string>& profiles) {
  auto text = ReadFile(path);
  if (!text) return Fail(std::move(text.error()).Wrap("read app file " + path));
  std::vector<Diagnostic> errors;
  AppFile app = ParseAppFile(*text, path, profiles, &errors);
  if (errors.empty()) return app;
  std::vector<std::string> lines;
  for (auto& e : errors) lines.push_back(e.ToString());
  return FailInvalid(Join(lines, "\n"));
}

Result<std::string> FindAppFile(const std::string& dir) {
  static const char* kNames[] = {"moor.yaml",   "moor.yml",           "compose.yaml",
                                 "compose.yml", "docker-compose.yml", "docker-compose.yaml"};
  for (auto* n : kNames) {
    std::string p = (dir.empty() ? "." : dir) + "/" + n;
    if (PathExists(p)) return dir.empty() || dir == "." ? std::string(n) : p;
  }
  return FailInvalid("no moor.yaml (nor compose.yaml or docker-compose.yml) in " +
                     (dir.empty() ? std::string(".") : dir) + "; give the file with -f FILE");
}

}  // namespace moor::app
