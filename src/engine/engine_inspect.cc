// inspect and ps: Docker's JSON shapes for containers.
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "engine/container_config.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"

namespace moor::engine {

using nlohmann::json;

namespace {

const char* kZeroTime = "0001-01-01T00:00:00Z";

// "2026-11-27T10:00:00.123Z" → unix seconds (ps's "Created" is a number).
int64_t UnixSeconds(const std::string& rfc3339) {
  struct tm tm {};
  if (rfc3339.size() < 19 || !strptime(rfc3339.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

json PortsJson(const ContainerRecord& r) {
  // {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}
  json ports = json::object();
  for (const auto& e : r.config.exposed_ports) ports[e] = nullptr;
  for (const auto& p : r.config.ports) {
    std::string k = std::to_string(p.container_port) + (p.udp ? "/udp" : "/tcp");
    if (!ports.contains(k) || ports[k].is_null()) ports[k] = json::array();
  }
  for (const auto& b : r.ports) {
    std::string k = std::to_string(b.container_port) + (b.udp ? "/udp" : "/tcp");
    if (!ports[k].is_array()) ports[k] = json::array();
    ports[k].push_back({{"HostIp", b.host_ip}, {"HostPort", std::to_string(b.host_port)}});
  }
  return ports;
}

json HealthJson(const HealthState& h) {
  json log = json::array();
  for (const auto& p : h.log) {
    log.push_back({{"Start", p.start}, {"End", p.end}, {"ExitCode", p.exit_code}, {"Output", p.output}});
  }
  return {{"Status", h.status}, {"FailingStreak", h.failing_streak}, {"Log", log}};
}

std::string StatusText(const ContainerRecord& r) {
  const auto& s = r.state;
  if (s.status == "running") return "Up";
  if (s.status == "paused") return "Up (Paused)";
  if (s.status == "restarting") return "Restarting (" + std::to_string(s.exit_code) + ")";
  if (s.status == "created") return "Created";
  return "Exited (" + std::to_string(s.exit_code) + ")";
}

json SummaryJson(const ContainerRecord& r) {
  json ports = json::array();
  for (const auto& b : r.ports) {
    ports.push_back({{"IP", b.host_ip}, {"PrivatePort", b.container_port}, {"PublicPort", b.host_port},
                     {"Type", b.udp ? "udp" : "tcp"}});
  }
  json labels = json::object();
  for (const auto& [k, v] : r.config.labels) labels[k] = v;
  std::vector<std::string> cmd;
  if (r.config.entrypoint) cmd = *r.config.entrypoint;
  cmd.insert(cmd.end(), r.config.cmd.begin(), r.config.cmd.end());
  json networks = json::object();
  if (!r.endpoint.network.empty()) {
    networks[r.endpoint.network] = {{"NetworkID", r.endpoint.network_id}, {"IPAddress", r.endpoint.ip},
                                    {"Gateway", r.endpoint.gateway}, {"IPPrefixLen", r.endpoint.prefix},
                                    {"MacAddress", r.endpoint.mac}};
  }
  std::string status = StatusText(r);
  if (r.state.status == "running" && !r.state.health.status.empty()) status += " (" + r.state.health.status + ")";
  return {{"Id", r.id},
          {"Names", json::array({"/" + r.name})},
          {"Image", r.image_ref},
          {"ImageID", r.image_id},
          {"Command", Join(cmd, " ")},
          {"Created", UnixSeconds(r.created)},
          {"State", r.state.status},
          {"Status", status},
          {"Ports", ports},
          {"Labels", labels},
          {"NetworkSettings", {{"Networks", networks}}}};
}

bool MatchesFilter(const ContainerRecord& r, const ListFilter& f) {
  std::map<std::string, bool> seen;
  for (const auto& [key, value] : f.terms) {
    bool ok = false;
    if (key == "status") ok = r.state.status == value;
    else if (key == "name") ok = r.name.find(value[0] == '/' ? value.substr(1) : value) != std::string::npos;
    else if (key == "id") ok = r.id.rfind(value, 0) == 0;
    else if (key == "ancestor") ok = r.image_ref == value || r.image_id == value;
    else if (key == "network") ok = r.endpoint.network == value || r.endpoint.network_id == value;
    else if (key == "exited") ok = r.state.status == "exited" && std::to_string(r.state.exit_code) == value;
    else if (key == "health") ok = r.state.health.status == value;
    else if (key == "label") {
      auto eq = value.find('=');
      auto it = r.config.labels.find(value.substr(0, eq));
      ok = it != r.config.labels.end() && (eq == std::string::npos || it->second == value.substr(eq + 1));
    }
    seen[key] = seen[key] || ok;
  }
  for (const auto& [k, ok] : seen) {
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::string> Engine::InspectJson(const std::string& key) {
  auto r = TRY(Get(key));
  const auto& s = r.state;
  json state = {{"Status", s.status},
                {"Running", s.status == "running" || s.status == "paused"},
                {"Paused", s.status == "paused"},
                {"Restarting", s.status == "restarting"},
                {"OOMKilled", s.oom_killed},
                {"Dead", s.status == "dead"},
                {"Pid", s.pid},
                {"ExitCode", s.exit_code},
                {"Error", s.error},
                {"StartedAt", s.started_at.empty() ? kZeroTime : s.started_at},
                {"FinishedAt", s.finished_at.empty() ? kZeroTime : s.finished_at}};
  if (!s.health.status.empty()) state["Health"] = HealthJson(s.health);
  json networks = json::object();
  if (!r.endpoint.network.empty()) {
    networks[r.endpoint.network] = {{"NetworkID", r.endpoint.network_id},
                                    {"IPAddress", r.endpoint.ip},
                                    {"Gateway", r.endpoint.gateway},
                                    {"IPPrefixLen", r.endpoint.prefix},
                                    {"MacAddress", r.endpoint.mac},
                                    {"Aliases", r.endpoint.aliases}};
  }
  json mounts = json::array();
  for (const auto& m : r.config.mounts) {
    json mj = {{"Type", m.type},     {"Source", m.source},       {"Destination", m.target},
               {"RW", !m.read_only}, {"Propagation", m.propagation}};
    if (m.type == "volume") {
      mj["Name"] = m.source;
      mj["Source"] = cfg_.VolumesDir() + "/" + m.source + "/_data";
      mj["Driver"] = "local";
    }
    mounts.push_back(mj);
  }
  json j = {{"Id", r.id},
            {"Created", r.created},
            {"Path", r.config.entrypoint && !r.config.entrypoint->empty() ? (*r.config.entrypoint)[0]
                     : r.config.cmd.empty()                               ? ""
                                                                          : r.config.cmd[0]},
            {"Args", r.config.cmd},
            {"State", state},
            {"Image", r.image_id},
            {"Name", "/" + r.name},
            {"RestartCount", s.restart_count},
            {"Driver", "overlay"},
            {"Platform", "linux"},
            {"LogPath", cfg_.ContainerDir(r.id) + "/" + r.id + "-json.log"},
            {"HostsPath", cfg_.ContainerDir(r.id) + "/hosts"},
            {"ResolvConfPath", cfg_.ContainerDir(r.id) + "/resolv.conf"},
            {"HostnamePath", cfg_.ContainerDir(r.id) + "/hostname"},
            {"Config", json::parse(InspectConfigJson(r.config))},
            {"HostConfig", json::parse(InspectHostConfigJson(r.config))},
            {"Mounts", mounts},
            {"NetworkSettings",
             {{"IPAddress", r.endpoint.ip},
              {"Gateway", r.endpoint.gateway},
              {"IPPrefixLen", r.endpoint.prefix},
              {"MacAddress", r.endpoint.mac},
              {"SandboxKey", r.netns_path},
              {"Ports", PortsJson(r)},
              {"Networks", networks}}}};
  j["Config"]["Image"] = r.image_ref;
  return j.dump();
}

Result<std::string> Engine::ListJson(const ListFilter& f) {
  auto all = TRY(All());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.created > b.created; });
  json out = json::array();
  for (const auto& r : all) {
    bool running = r.state.status == "running" || r.state.status == "paused" || r.state.status == "restarting";
    if (!f.all && !running && !f.terms.contains("status")) continue;
    if (!MatchesFilter(r, f)) continue;
    out.push_back(SummaryJson(r));
  }
  return out.dump();
}

}  // namespace moor::engine
