// Prometheus HTTP service discovery (http_sd_configs) over the catalog:
// GET /v1/moor/prometheus-sd[?service=NAME][&tag=T] → the passing and
// warning instances as Prometheus target groups, one per instance, labelled
// like consul_sd's meta labels (__meta_moor_service, _service_id, _tags,
// _container, _node, _service_meta_KEY). Debian's Prometheus is built
// without consul_sd_configs; http_sd_configs is in every build.
#pragma once

#include <string>

#include "api/http_server.h"
#include "discovery/catalog.h"

namespace moor::discovery {

// The response body for the given filters (exposed for tests).
std::string PrometheusTargets(const Catalog& catalog, const std::string& service, const std::string& tag);

void AddPrometheusSdRoute(api::Router& router, const Catalog& catalog);

}  // namespace moor::discovery
