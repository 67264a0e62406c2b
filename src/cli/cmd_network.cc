// network create / ls / inspect / rm / connect / disconnect / prune.
#include <cstdio>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

Result<int> PrintDocs(Daemon& d, const std::string& prefix, const std::vector<std::string>& refs,
                      const std::string& format) {
  std::vector<json> docs;
  int rc = 0;
  for (auto& ref : refs) {
    auto doc = d.GetJson(prefix + Esc(ref));
    if (!doc) {
      std::fprintf(stderr, "moor: %s\n", doc.error().message().c_str());
      rc = 1;
      continue;
    }
    docs.push_back(*doc);
  }
  if (format.empty()) {
    Out(json(docs).dump(4) + "\n");
  } else {
    std::string out;
    auto t = TRY(Template::Parse(format == "json" ? "{{json .}}" : format));
    for (auto& doc : docs) out += TRY(t.Render(doc)) + "\n";
    Out(out);
  }
  return rc;
}

Result<int> RemoveEach(Daemon& d, const std::string& prefix, const std::vector<std::string>& refs,
                       const std::string& query, const std::string& usage) {
  if (refs.empty()) return FailInvalid(usage);
  int rc = 0;
  for (auto& ref : refs) {
    auto r = d.Call("DELETE", prefix + Esc(ref) + query);
    if (!r) {
      std::fprintf(stderr, "moor: %s\n", r.error().message().c_str());
      rc = 1;
    } else {
      Out(ref + "\n");
    }
  }
  return rc;
}

json Labels(const std::vector<std::string>& kvs) {
  json labels = json::object();
  for (auto& l : kvs) {
    auto eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  return labels;
}

}  // namespace

Result<int> CmdNetworkCreate(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"driver", "d", true, false},
                                   {"subnet", "", true, false},
                                   {"gateway", "", true, false},
                                   {"label", "", true, true},
                                   {"internal", "", false, false}}));
  if (a.positional.size() != 1)
    return FailInvalid("network create: usage: moor network create [OPTIONS] NAME");
  json body = {{"Name", a.positional[0]}, {"Driver", a.Get("driver", "bridge")}};
  if (a.Has("subnet") || a.Has("gateway")) {
    if (!a.Has("subnet")) return FailInvalid("network create: --gateway needs --subnet");
    json cfg = {{"Subnet", a.Get("subnet")}};
    if (a.Has("gateway")) cfg["Gateway"] = a.Get("gateway");
    body["IPAM"] = {{"Config", json::array({cfg})}};
  }
  if (a.Has("label")) body["Labels"] = Labels(a.All("label"));
  if (a.Bool("internal")) body["Internal"] = true;
  auto d = TRY(Daemon::Connect(g));
  json r = TRY(d.PostJson("/networks/create", body));
  Out((r.is_object() ? r.value("Id", "") : std::string()) + "\n");
  return 0;
}

Result<int> CmdNetworkLs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"quiet", "q", false, false},
                                   {"filter", "f", true, true},
                                   {"format", "", true, false},
                                   {"no-trunc", "", false, false}}));
  std::string f = TRY(FiltersQuery(a.All("filter")));
  auto d = TRY(Daemon::Connect(g));
  json list = TRY(d.GetJson("/networks" + (f.empty() ? "" : "?filters=" + f)));
  std::vector<json> rows;
  for (auto& n : list) {
    std::string id = n.value("Id", "");
    if (!a.Bool("no-trunc")) id = id.substr(0, 12);
    rows.push_back({{"ID", id},
                    {"Name", n.value("Name", "")},
                    {"Driver", n.value("Driver", "")},
                    {"Scope", n.value("Scope", "local")},
                    {"Created", n.value("Created", "")}});
  }
  std::string format = a.Get("format");
  if (a.Bool("quiet") && format.empty()) format = "{{.ID}}";
  Out(TRY(FormatRows(format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows,
                     {{"ID", "NETWORK ID"}, {"Name", "NAME"}, {"Driver", "DRIVER"}, {"Scope", "SCOPE"}})));
  return 0;
}

Result<int> CmdNetworkInspect(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "f", true, false}}));
  if (a.positional.empty()) return FailInvalid("network inspect: give at least one network");
  auto d = TRY(Daemon::Connect(g));
  return PrintDocs(d, "/networks/", a.positional, a.Get("format"));
}

Result<int> CmdNetworkRm(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  auto d = TRY(Daemon::Connect(g));
  return RemoveEach(d, "/networks/", a.positional, "", "network rm: usage: moor network rm NETWORK...");
}

namespace {
Result<int> ConnectOrDisconnect(const Globals& g, const std::vector<std::string>& args, bool connect) {
  auto a = TRY(
      ParseCommand(args, {{"ip", "", true, false}, {"alias", "", true, true}, {"force", "f", false, false}}));
  const char* verb = connect ? "connect" : "disconnect";
  if (a.positional.size() != 2) {
    return FailInvalid(std::string("network ") + verb + ": usage: moor network " + verb +
                       " NETWORK CONTAINER");
  }
  json body = {{"Container", a.positional[1]}};
  if (connect && (a.Has("ip") || a.Has("alias"))) {
    json ep = json::object();
    if (a.Has("ip")) ep["IPAMConfig"] = {{"IPv4Address", a.Get("ip")}};
    if (a.Has("alias")) ep["Aliases"] = a.All("alias");
    body["EndpointConfig"] = ep;
  }
  if (!connect && a.Bool("force")) body["Force"] = true;
  auto d = TRY(Daemon::Connect(g));
  TRY(d.PostJson("/networks/" + Esc(a.positional[0]) + "/" + verb, body));
  return 0;
}
}  // namespace

Result<int> CmdNetworkConnect(const Globals& g, const std::vector<std::string>& args) {
  return ConnectOrDisconnect(g, args, true);
}
Result<int> CmdNetworkDisconnect(const Globals& g, const std::vector<std::string>& args) {
  return ConnectOrDisconnect(g, args, false);
}

Result<int> CmdNetworkPrune(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"force", "f", false, false}, {"filter", "", true, true}}));
  std::string f = TRY(FiltersQuery(a.All("filter")));
  auto d = TRY(Daemon::Connect(g));
  json r = TRY(d.PostJson("/networks/prune" + (f.empty() ? "" : "?filters=" + f)));
  if (r.is_object() && r.contains("NetworksDeleted") && r["NetworksDeleted"].is_array() &&
      !r["NetworksDeleted"].empty()) {
    std::string out = "Deleted Networks:\n";
    for (auto& n : r["NetworksDeleted"]) out += GoString(n) + "\n";
    Out(out);
  }
  return 0;
}

// Volumes.

Result<int> CmdVolumeCreate(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(
      args, {{"driver", "d", true, false}, {"label", "", true, true}, {"name", "", true, false}}));
  if (a.positional.size() > 1)
    return FailInvalid("volume create: usage: moor volume create [OPTIONS] [NAME]");
  json body = json::object();
  std::string name = a.positional.empty() ? a.Get("name") : a.positional[0];
  if (!name.empty()) body["Name"] = name;
  if (a.Has("driver")) body["Driver"] = a.Get("driver");
  if (a.Has("label")) body["Labels"] = Labels(a.All("label"));
  auto d = TRY(Daemon::Connect(g));
  json r = TRY(d.PostJson("/volumes/create", body));
  Out((r.is_object() ? r.value("Name", name) : name) + "\n");
  return 0;
}

Result<int> CmdVolumeLs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(
      args, {{"quiet", "q", false, false}, {"filter", "f", true, true}, {"format", "", true, false}}));
  std::string f = TRY(FiltersQuery(a.All("filter")));
  auto d = TRY(Daemon::Connect(g));
  json list = TRY(d.GetJson("/volumes" + (f.empty() ? "" : "?filters=" + f)));
  std::vector<json> rows;
  if (list.is_object() && list.contains("Volumes") && list["Volumes"].is_array()) {
    for (auto& v : list["Volumes"]) {
      rows.push_back({{"Name", v.value("Name", "")},
                      {"Driver", v.value("Driver", "local")},
                      {"Mountpoint", v.value("Mountpoint", "")},
                      {"Scope", v.value("Scope", "local")}});
    }
  }
  std::string format = a.Get("format");
  if (a.Bool("quiet") && format.empty()) format = "{{.Name}}";
  Out(TRY(FormatRows(format, "table {{.Driver}}\t{{.Name}}", rows,
                     {{"Name", "VOLUME NAME"}, {"Driver", "DRIVER"}})));
  return 0;
}

Result<int> CmdVolumeInspect(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "f", true, false}}));
  if (a.positional.empty()) return FailInvalid("volume inspect: give at least one volume");
  auto d = TRY(Daemon::Connect(g));
  return PrintDocs(d, "/volumes/", a.positional, a.Get("format"));
}

Result<int> CmdVolumeRm(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"force", "f", false, false}}));
  auto d = TRY(Daemon::Connect(g));
  return RemoveEach(d, "/volumes/", a.positional, a.Bool("force") ? "?force=1" : "",
                    "volume rm: usage: moor volume rm [-f] VOLUME...");
}

Result<int> CmdVolumePrune(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(
      args, {{"force", "f", false, false}, {"filter", "", true, true}, {"all", "a", false, false}}));
  std::vector<std::string> filters = a.All("filter");
  if (a.Bool("all")) filters.push_back("all=true");
  std::string f = TRY(FiltersQuery(filters));
  auto d = TRY(Daemon::Connect(g));
  json r = TRY(d.PostJson("/volumes/prune" + (f.empty() ? "" : "?filters=" + f)));
  std::string out;
  if (r.is_object() && r.contains("VolumesDeleted") && r["VolumesDeleted"].is_array() &&
      !r["VolumesDeleted"].empty()) {
    out = "Deleted Volumes:\n";
    for (auto& v : r["VolumesDeleted"]) out += GoString(v) + "\n";
    out += "\n";
  }
  int64_t space = r.is_object() ? r.value("SpaceReclaimed", int64_t{0}) : 0;
  out += "Total reclaimed space: " + HumanSize(space) + "\n";
  Out(out);
  return 0;
}

}  // namespace moor::cli
