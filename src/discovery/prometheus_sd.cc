#include "discovery/prometheus_sd.h"

#include <nlohmann/json.hpp>

namespace moor::discovery {

std::string PrometheusTargets(const Catalog& catalog, const std::string& service, const std::string& tag) {
  nlohmann::json groups = nlohmann::json::array();
  std::vector<std::string> names;
  if (!service.empty()) {
    names.push_back(service);
  } else {
    for (const auto& [name, _] : catalog.ServiceNames()) names.push_back(name);
  }
  for (const auto& name : names) {
    for (const auto& s : catalog.Usable(name, tag)) {
      std::string tags = ",";
      for (const auto& t : s.tags) tags += t + ",";
      nlohmann::json labels = {{"__meta_moor_service", s.name},
                               {"__meta_moor_service_id", s.id},
                               {"__meta_moor_service_address", s.address},
                               {"__meta_moor_service_port", std::to_string(s.port)},
                               {"__meta_moor_tags", tags},
                               {"__meta_moor_node", catalog.node().name},
                               {"__meta_moor_container", s.container_name}};
      for (const auto& [k, v] : s.meta) {
        std::string key;
        for (char c : k) key += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        labels["__meta_moor_service_meta_" + key] = v;
      }
      groups.push_back({{"targets", {s.address + ":" + std::to_string(s.port)}}, {"labels", labels}});
    }
  }
  return groups.dump();
}

void AddPrometheusSdRoute(api::Router& router, const Catalog& catalog) {
  router.Handle("GET", "/v1/moor/prometheus-sd", [&catalog](const api::Request& req, api::ResponseWriter& w) {
    w.SendJson(200, PrometheusTargets(catalog, req.Query("service").value_or(""), req.Query("tag").value_or("")));
  });
}

}  // namespace moor::discovery
