#include "engine/container_record.h"

#include <nlohmann/json.hpp>

namespace moor::engine {

using nlohmann::json;

namespace {

json EndpointJson(const Endpoint& e) {
  return {{"network", e.network}, {"network_id", e.network_id}, {"ip", e.ip}, {"gateway", e.gateway},
          {"prefix", e.prefix},   {"mac", e.mac},               {"aliases", e.aliases}};
}

json StateJson(const ContainerState& s) {
  json log = json::array();
  for (const auto& p : s.health.log) {
    log.push_back({{"start", p.start}, {"end", p.end}, {"exit_code", p.exit_code}, {"output", p.output}});
  }
  return {{"status", s.status},
          {"pid", s.pid},
          {"exit_code", s.exit_code},
          {"oom_killed", s.oom_killed},
          {"error", s.error},
          {"started_at", s.started_at},
          {"finished_at", s.finished_at},
          {"restart_count", s.restart_count},
          {"manually_stopped", s.manually_stopped},
          {"health", {{"status", s.health.status}, {"failing_streak", s.health.failing_streak}, {"log", log}}}};
}

}  // namespace

std::string RecordToJson(const ContainerRecord& r) {
  json ports = json::array();
  for (const auto& p : r.ports) {
    ports.push_back({{"container_port", p.container_port}, {"udp", p.udp}, {"host_ip", p.host_ip},
                     {"host_port", p.host_port}});
  }
  json j = {{"id", r.id},
            {"name", r.name},
            {"created", r.created},
            {"image_ref", r.image_ref},
            {"image_id", r.image_id},
            {"config", json::parse(ToJson(r.config))},
            {"runtime", r.runtime},
            {"endpoint", EndpointJson(r.endpoint)},
            {"ports", ports},
            {"netns_path", r.netns_path},
            {"state", StateJson(r.state)}};
  return j.dump();
}

Result<ContainerRecord> RecordFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    ContainerRecord r;
    r.id = j.at("id").get<std::string>();
    r.name = j.at("name").get<std::string>();
    r.created = j.value("created", "");
    r.image_ref = j.value("image_ref", "");
    r.image_id = j.value("image_id", "");
    r.config = TRY_CTX(FromJson(j.at("config").dump()), "container " + r.id);
    r.runtime = j.value("runtime", "");
    const json& e = j.at("endpoint");
    r.endpoint.network = e.value("network", "");
    r.endpoint.network_id = e.value("network_id", "");
    r.endpoint.ip = e.value("ip", "");
    r.endpoint.gateway = e.value("gateway", "");
    r.endpoint.prefix = e.value("prefix", 0);
    r.endpoint.mac = e.value("mac", "");
    r.endpoint.aliases = e.value("aliases", std::vector<std::string>{});
    for (const auto& p : j.at("ports")) {
      r.ports.push_back({p.value("container_port", 0), p.value("udp", false), p.value("host_ip", ""),
                         p.value("host_port", 0)});
    }
    r.netns_path = j.value("netns_path", "");
    const json& s = j.at("state");
    r.state.status = s.value("status", "created");
    r.state.pid = s.value("pid", 0);
    r.state.exit_code = s.value("exit_code", 0);
    r.state.oom_killed = s.value("oom_killed", false);
    r.state.error = s.value("error", "");
    r.state.started_at = s.value("started_at", "");
    r.state.finished_at = s.value("finished_at", "");
    r.state.restart_count = s.value("restart_count", 0);
    r.state.manually_stopped = s.value("manually_stopped", false);
    if (s.contains("health")) {
      const json& h = s["health"];
      r.state.health.status = h.value("status", "");
      r.state.health.failing_streak = h.value("failing_streak", 0);
      for (const auto& p : h.value("log", json::array())) {
        r.state.health.log.push_back(
            {p.value("start", ""), p.value("end", ""), p.value("exit_code", 0), p.value("output", "")});
      }
    }
    return r;
  } catch (const json::exception& e) {
    return FailInvalid(std::string("container record is damaged: ") + e.what());
  }
}

}  // namespace moor::engine
