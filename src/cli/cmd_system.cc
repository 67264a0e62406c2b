// info, version, system df, system prune: the daemon's view of the machine.
#include <sys/utsname.h>

#include <cstdio>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"

namespace moor::cli {

using nlohmann::json;

namespace {

constexpr const char* kClientVersion = "0.1.0";

std::string Field(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  return GoString(j[key]);
}

}  // namespace

Result<int> CmdInfo(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "f", true, false}}));
  auto d = TRY(Daemon::Connect(g));
  json info = TRY(d.GetJson("/info"));
  std::string format = a.Get("format");
  if (!format.empty()) {
    auto t = TRY(Template::Parse(format == "json" ? "{{json .}}" : format));
    Out(TRY(t.Render(info)) + "\n");
    return 0;
  }
  std::string out = "Client:\n Version:    " + std::string(kClientVersion) +
                    "\n Context:    " + d.socket_path() + "\n\nServer:\n";
  auto line = [&](const std::string& label, const char* key, const char* indent = " ") {
    if (info.is_object() && info.contains(key)) out += indent + label + ": " + Field(info, key) + "\n";
  };
  line("Containers", "Containers");
  line("Running", "ContainersRunning", "  ");
  line("Paused", "ContainersPaused", "  ");
  line("Stopped", "ContainersStopped", "  ");
  line("Images", "Images");
  line("Server Version", "ServerVersion");
  line("Cgroup Version", "CgroupVersion");
  line("Cgroup Driver", "CgroupDriver");
  if (info.is_object() && info.contains("Runtimes") && info["Runtimes"].is_object()) {
    std::vector<std::string> names;
    for (auto& [k, v] : info["Runtimes"].items()) names.push_back(k);
    std::string joined;
    for (auto& n : names) joined += (joined.empty() ? "" : " ") + n;
    out += " Runtimes: " + joined + "\n";
  }
  line("Default Runtime", "DefaultRuntime");
  line("Kernel Version", "KernelVersion");
  line("Operating System", "OperatingSystem");
  line("OSType", "OSType");
  line("Architecture", "Architecture");
  line("CPUs", "NCPU");
  if (info.is_object() && info.contains("MemTotal") && info["MemTotal"].is_number()) {
    out += " Total Memory: " + HumanSize(info["MemTotal"].get<int64_t>()) + "\n";
  }
  line("Name", "Name");
  line("ID", "ID");
  line("Docker Root Dir", "DockerRootDir");
  line("Root Dir", "RootDir");
  Out(out);
  return 0;
}

Result<int> CmdVersion(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "f", true, false}}));
  utsname u{};
  uname(&u);
  json client = {{"Version", kClientVersion}, {"Os", "linux"}, {"Arch", u.machine}};
  auto d = TRY(Daemon::Connect(g));
  auto server = d.GetJson("/version");
  std::string format = a.Get("format");
  if (!format.empty()) {
    json both = {{"Client", client}, {"Server", server ? *server : json(nullptr)}};
    auto t = TRY(Template::Parse(format == "json" ? "{{json .}}" : format));
    Out(TRY(t.Render(both)) + "\n");
    return server ? 0 : 1;
  }
  std::string out =
      "Client:\n Version:      " + std::string(kClientVersion) + "\n OS/Arch:      linux/" + u.machine + "\n";
  Out(out);
  if (!server) return Fail(std::move(server.error()));
  out = "\nServer:\n";
  for (auto* k : {"Version", "ApiVersion", "GitCommit", "Os", "Arch", "KernelVersion"}) {
    if (server->contains(k)) {
      std::string label = std::string(k) + ":";
      out += " " + label + std::string(label.size() < 14 ? 14 - label.size() : 1, ' ') + Field(*server, k) +
             "\n";
    }
  }
  Out(out);
  return 0;
}

Result<int> CmdSystemDf(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "", true, false}, {"verbose", "v", false, false}}));
  auto d = TRY(Daemon::Connect(g));
  json df = TRY(d.GetJson("/system/df"));
  if (a.Get("format") == "json") {
    Out(df.dump() + "\n");
    return 0;
  }
  auto sum = [](const json& list, const char* key, int64_t* total, int64_t* active, const char* active_key) {
    size_t n = 0;
    if (!list.is_array()) return n;
    for (auto& e : list) {
      ++n;
      int64_t size = e.value(key, int64_t{0});
      *total += size;
      if (e.contains(active_key) && e[active_key].is_number() && e[active_key].get<int64_t>() > 0)
        *active += 1;
      if (e.contains(active_key) && e[active_key].is_string() && e[active_key] == "running") *active += 1;
    }
    return n;
  };
  std::vector<json> rows;
  auto add = [&](const char* type, const json& list, const char* size_key, const char* active_key) {
    int64_t total = 0, active = 0;
    size_t n = sum(list, size_key, &total, &active, active_key);
    rows.push_back({{"Type", type},
                    {"TotalCount", std::to_string(n)},
                    {"Active", std::to_string(active)},
                    {"Size", HumanSize(total)}});
  };
  const json empty = json::array();
  add("Images", df.value("Images", empty), "Size", "Containers");
  add("Containers", df.value("Containers", empty), "SizeRw", "State");
  json volumes = df.value("Volumes", empty);
  json vol_rows = json::array();
  for (auto& v : volumes) {
    json usage = v.value("UsageData", json::object());
    vol_rows.push_back(
        {{"Size", usage.value("Size", int64_t{0})}, {"RefCount", usage.value("RefCount", int64_t{0})}});
  }
  add("Local Volumes", vol_rows, "Size", "RefCount");
  Out(TRY(FormatRows(a.Get("format"), "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}", rows,
                     {{"Type", "TYPE"}, {"TotalCount", "TOTAL"}, {"Active", "ACTIVE"}, {"Size", "SIZE"}})));
  return 0;
}

Result<int> CmdSystemPrune(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(
      args, {{"force", "f", false, false}, {"volumes", "", false, false}, {"all", "a", false, false}}));
  auto d = TRY(Daemon::Connect(g));
  int64_t reclaimed = 0;
  std::string out;
  auto list = [&](const json& r, const char* key, const char* title) {
    if (!r.is_object() || !r.contains(key) || !r[key].is_array() || r[key].empty()) return;
    out += std::string(title) + ":\n";
    for (auto& e : r[key]) out += GoString(e) + "\n";
    out += "\n";
  };
  json c = TRY(d.PostJson("/containers/prune"));
  list(c, "ContainersDeleted", "Deleted Containers");
  reclaimed += c.is_object() ? c.value("SpaceReclaimed", int64_t{0}) : 0;
  json n = TRY(d.PostJson("/networks/prune"));
  list(n, "NetworksDeleted", "Deleted Networks");
  if (a.Bool("volumes")) {
    json v = TRY(d.PostJson("/volumes/prune"));
    list(v, "VolumesDeleted", "Deleted Volumes");
    reclaimed += v.is_object() ? v.value("SpaceReclaimed", int64_t{0}) : 0;
  }
  out += "Total reclaimed space: " + HumanSize(reclaimed) + "\n";
  Out(out);
  // Images live in the local store: `moor image prune` cleans them.
  if (a.Bool("all")) return CmdPrune(g, {});
  return 0;
}

}  // namespace moor::cli
