// The Consul-compatible HTTP API over the agent and its catalog: the
// endpoints Prometheus' consul_sd, consul-template, Consul's Go client and
// `moor service` / `moor kv` use (agent, catalog, health, status, kv), with
// blocking queries (?index=&wait=) and X-Consul-Index.
//
// There are no ACLs: X-Consul-Token / ?token= are accepted and ignored, so
// the API must only be reachable by those allowed to change the catalog (the
// daemon's 0600 socket, the bridge gateway address). One node, one
// datacenter: ?dc= naming another answers 500 "No path to datacenter".
// Filter expressions (?filter=) are refused with 400, never ignored.
#pragma once

#include "api/http_server.h"
#include "discovery/agent.h"

namespace moor::discovery {

// Registers every /v1/... route on router. The agent (and its catalog) must
// outlive the server using the router.
void AddConsulRoutes(api::Router& router, Agent& agent);

}  // namespace moor::discovery
