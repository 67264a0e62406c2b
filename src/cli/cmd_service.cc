// moor service ls / inspect / register / deregister: the daemon's service
// catalog through its Consul-compatible API (/v1/catalog, /v1/health,
// /v1/agent on the daemon socket).
#include <algorithm>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

bool AllPassing(const json& entry) {
  if (!entry.contains("Checks") || !entry["Checks"].is_array()) return true;
  return std::all_of(entry["Checks"].begin(), entry["Checks"].end(),
                     [](const json& c) { return c.value("Status", "") == "passing"; });
}

// Builds a Consul service definition from the register flags.
Result<json> DefinitionFromFlags(const ParsedArgs& a) {
  const std::string cmd = "service register";
  if (!a.Has("name")) return FailInvalid(cmd + ": --name is required (or give -f FILE.json)");
  json def = {{"Name", a.Get("name")}};
  if (a.Has("id")) def["ID"] = a.Get("id");
  if (a.Has("address")) def["Address"] = a.Get("address");
  if (a.Has("port")) {
    auto p = ParseInt(a.Get("port"));
    if (!p || *p < 0 || *p > 65535) return FailInvalid(cmd + ": --port \"" + a.Get("port") + "\": want 0-65535");
    def["Port"] = *p;
  }
  if (a.Has("tag")) def["Tags"] = a.All("tag");
  if (a.Has("meta")) {
    json meta = json::object();
    for (const auto& kv : a.All("meta")) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return FailInvalid(cmd + ": --meta \"" + kv + "\": want KEY=VALUE");
      meta[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    def["Meta"] = meta;
  }
  int kinds = a.Has("check-tcp") + a.Has("check-http") + a.Has("check-fastcgi") + a.Has("check-ttl");
  if (kinds > 1) return FailInvalid(cmd + ": give at most one of --check-tcp, --check-http, --check-fastcgi, --check-ttl");
  for (const char* dur : {"interval", "timeout", "deregister-after", "check-ttl"}) {
    if (a.Has(dur) && !ParseDurationNs(a.Get(dur)))
      return FailInvalid(cmd + ": --" + dur + " \"" + a.Get(dur) + "\": want a duration like 10s");
  }
  bool probed = a.Has("check-tcp") || a.Has("check-http") || a.Has("check-fastcgi");
  if (!probed && (a.Has("interval") || a.Has("timeout")))
    return FailInvalid(cmd + ": --interval and --timeout need --check-tcp, --check-http or --check-fastcgi");
  if (kinds == 0) {
    if (a.Has("deregister-after")) return FailInvalid(cmd + ": --deregister-after needs a --check-…");
    return def;
  }
  json check = json::object();
  if (a.Has("check-tcp")) check["TCP"] = a.Get("check-tcp");
  if (a.Has("check-http")) check["HTTP"] = a.Get("check-http");
  if (a.Has("check-ttl")) check["TTL"] = a.Get("check-ttl");
  if (a.Has("check-fastcgi")) {
    // IP:PORT/path → moor's FastCGI check extension.
    std::string v = a.Get("check-fastcgi");
    auto slash = v.find('/');
    check["FastCGI"] = v.substr(0, slash);
    check["FastCGIPath"] = slash == std::string::npos ? "/ping" : v.substr(slash);
  }
  if (a.Has("interval")) check["Interval"] = a.Get("interval");
  if (a.Has("timeout")) check["Timeout"] = a.Get("timeout");
  if (a.Has("deregister-after")) check["DeregisterCriticalServiceAfter"] = a.Get("deregister-after");
  def["Check"] = check;
  return def;
}

// A definition file in Consul's format: the definition itself, or wrapped
// as {"service": {...}} like Consul's config files.
Result<json> DefinitionFromFile(const std::string& path) {
  std::string text = TRY_CTX(ReadFile(path), "service register: read " + path);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return FailInvalid("service register: " + path + " is not a JSON object (want a Consul service definition)");
  for (const char* wrap : {"service", "Service"}) {
    if (j.size() == 1 && j.contains(wrap) && j[wrap].is_object()) return j[wrap];
  }
  return j;
}

}  // namespace

Result<int> CmdServiceLs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "", true, false}, {"quiet", "q", false, false}}));
  if (!a.positional.empty()) return FailInvalid("service ls: usage: moor service ls [--format json|TEMPLATE]");
  auto d = TRY(Daemon::Connect(g));
  json services = TRY(d.GetJson("/v1/catalog/services"));
  std::vector<json> rows;
  for (auto it = services.begin(); it != services.end(); ++it) {
    json instances = TRY(d.GetJson("/v1/health/service/" + Esc(it.key())));
    int passing = 0;
    for (const auto& e : instances) passing += AllPassing(e) ? 1 : 0;
    std::vector<std::string> tags;
    for (const auto& t : it.value()) {
      if (t.is_string()) tags.push_back(t.get<std::string>());
    }
    rows.push_back({{"Name", it.key()},
                    {"Instances", std::to_string(passing) + "/" + std::to_string(instances.size())},
                    {"Passing", passing},
                    {"Total", instances.size()},
                    {"Tags", Join(tags, ",")}});
  }
  std::string format = a.Get("format");
  if (a.Bool("quiet") && format.empty()) format = "{{.Name}}";
  Out(TRY(FormatRows(format, "table {{.Name}}\t{{.Instances}}\t{{.Tags}}", rows,
                     {{"Name", "NAME"}, {"Instances", "INSTANCES"}, {"Tags", "TAGS"}})));
  return 0;
}

Result<int> CmdServiceInspect(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  if (a.positional.size() != 1) return FailInvalid("service inspect: usage: moor service inspect NAME");
  const std::string& name = a.positional[0];
  auto d = TRY(Daemon::Connect(g));
  json instances = TRY(d.GetJson("/v1/health/service/" + Esc(name)));
  if (!instances.is_array() || instances.empty()) {
    return FailInvalid("service inspect: no service \"" + name + "\" (see `moor service ls`)");
  }
  Out(instances.dump(4) + "\n");
  return 0;
}

Result<int> CmdServiceRegister(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"file", "f", true, false},
                                   {"name", "", true, false},
                                   {"id", "", true, false},
                                   {"address", "", true, false},
                                   {"port", "", true, false},
                                   {"tag", "", true, true},
                                   {"meta", "", true, true},
                                   {"check-tcp", "", true, false},
                                   {"check-http", "", true, false},
                                   {"check-fastcgi", "", true, false},
                                   {"check-ttl", "", true, false},
                                   {"interval", "", true, false},
                                   {"timeout", "", true, false},
                                   {"deregister-after", "", true, false}}));
  if (!a.positional.empty())
    return FailInvalid("service register: unexpected argument \"" + a.positional[0] + "\" (flags only)");
  json def;
  if (a.Has("file")) {
    if (a.values.size() > 1) return FailInvalid("service register: -f FILE cannot be combined with other flags");
    def = TRY(DefinitionFromFile(a.Get("file")));
  } else {
    def = TRY(DefinitionFromFlags(a));
  }
  auto d = TRY(Daemon::Connect(g));
  TRY(d.Call("PUT", "/v1/agent/service/register", def.dump()));
  std::string id;
  for (const char* k : {"ID", "id", "Name", "name"}) {
    if (id.empty() && def.contains(k) && def[k].is_string()) id = def[k].get<std::string>();
  }
  Out("Registered service: " + id + "\n");
  return 0;
}

Result<int> CmdServiceDeregister(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  if (a.positional.empty()) return FailInvalid("service deregister: usage: moor service deregister ID...");
  auto d = TRY(Daemon::Connect(g));
  for (const auto& id : a.positional) {
    TRY_CTX(d.Call("PUT", "/v1/agent/service/deregister/" + Esc(id)), "service deregister");
    Out("Deregistered service: " + id + "\n");
  }
  return 0;
}

}  // namespace moor::cli
