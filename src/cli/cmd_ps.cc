// ps: GET /containers/json, shown like `docker ps`.
#include <ctime>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

constexpr const char* kPsFormat =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const std::map<std::string, std::string> kPsHeaders = {
    {"ID", "CONTAINER ID"},    {"Image", "IMAGE"},   {"Command", "COMMAND"}, {"CreatedAt", "CREATED AT"},
    {"RunningFor", "CREATED"}, {"Status", "STATUS"}, {"Ports", "PORTS"},     {"Names", "NAMES"},
    {"State", "STATE"},        {"Labels", "LABELS"}, {"Mounts", "MOUNTS"},   {"Networks", "NETWORKS"}};

std::string Str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// "0.0.0.0:8080->80/tcp, 443/tcp" from the list entry's Ports.
std::string PortsText(const json& ports) {
  std::vector<std::string> out;
  if (!ports.is_array()) return "";
  for (auto& p : ports) {
    std::string ctr = std::to_string(p.value("PrivatePort", 0)) + "/" + p.value("Type", "tcp");
    if (p.contains("PublicPort") && p.value("PublicPort", 0) != 0) {
      std::string ip = p.value("IP", "");
      if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
      out.push_back(ip + ":" + std::to_string(p.value("PublicPort", 0)) + "->" + ctr);
    } else {
      out.push_back(ctr);
    }
  }
  return Join(out, ", ");
}

std::string Truncate(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "…";
}

// One row of ps's formatting context (docker's field names) from a list entry.
json PsRow(const json& c, bool no_trunc) {
  std::vector<std::string> names;
  if (c.contains("Names") && c["Names"].is_array()) {
    for (auto& n : c["Names"]) {
      std::string s = n.is_string() ? n.get<std::string>() : "";
      names.push_back(StartsWith(s, "/") ? s.substr(1) : s);
    }
  }
  std::string id = Str(c, "Id");
  std::string command = "\"" + Str(c, "Command") + "\"";
  int64_t created = c.value("Created", int64_t{0});
  std::vector<std::string> labels;
  if (c.contains("Labels") && c["Labels"].is_object()) {
    for (auto& [k, v] : c["Labels"].items())
      labels.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : ""));
  }
  std::vector<std::string> mounts, networks;
  if (c.contains("Mounts") && c["Mounts"].is_array()) {
    for (auto& m : c["Mounts"]) mounts.push_back(m.value("Name", m.value("Source", "")));
  }
  if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() &&
      c["NetworkSettings"].contains("Networks") && c["NetworkSettings"]["Networks"].is_object()) {
    for (auto& [k, v] : c["NetworkSettings"]["Networks"].items()) networks.push_back(k);
  }
  std::string created_at = created ? Rfc3339FromUnix(created) : "";
  return {{"ID", no_trunc ? id : id.substr(0, 12)},
          {"Image", Str(c, "Image")},
          {"Command", no_trunc ? command : Truncate(command, 20)},
          {"CreatedAt", created_at},
          {"RunningFor", created ? Ago(created_at) : ""},
          {"Status", Str(c, "Status")},
          {"State", Str(c, "State")},
          {"Ports", PortsText(c.value("Ports", json::array()))},
          {"Names", Join(names, ",")},
          {"Labels", Join(labels, ",")},
          {"Mounts", Join(mounts, ",")},
          {"Networks", Join(networks, ",")}};
}

}  // namespace

Result<int> CmdPs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"all", "a", false, false},
                                   {"quiet", "q", false, false},
                                   {"filter", "f", true, true},
                                   {"format", "", true, false},
                                   {"no-trunc", "", false, false}}));
  if (!a.positional.empty()) return FailInvalid("ps takes no arguments (use --filter name=…)");
  std::string target = "/containers/json";
  std::string filters = TRY(FiltersQuery(a.All("filter")));
  std::vector<std::string> query;
  if (a.Bool("all")) query.push_back("all=1");
  if (!filters.empty()) query.push_back("filters=" + filters);
  if (!query.empty()) target += "?" + Join(query, "&");
  auto d = TRY(Daemon::Connect(g));
  json list = TRY(d.GetJson(target));
  if (!list.is_array()) return FailInvalid("ps: the daemon's container list is not a list");
  std::vector<json> rows;
  for (auto& c : list) rows.push_back(PsRow(c, a.Bool("no-trunc")));
  std::string format = a.Get("format");
  if (a.Bool("quiet") && format.empty()) format = "{{.ID}}";
  Out(TRY(FormatRows(format, kPsFormat, rows, kPsHeaders)));
  return 0;
}

}  // namespace moor::cli
