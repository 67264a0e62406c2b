// The discovery types in Consul's JSON shapes (field names exactly as
// Consul's HTTP API writes and reads them), both ways: the catalog's
// instances, checks and KV entries out, service and check definitions in.
// Pure functions; the HTTP handlers live in consul_api.cc.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "discovery/types.h"

namespace moor::discovery::consul {

// Go's time.Duration.String(): "0s", "250ms", "10s", "1m30s", "1h0m0s".
std::string GoDuration(int64_t ns);

// ---- out ------------------------------------------------------------------
// A node as /v1/catalog/nodes lists it (ID, Node, Address, Datacenter,
// TaggedAddresses, Meta, CreateIndex, ModifyIndex).
nlohmann::json NodeJson(const Node& node, uint64_t modify_index);
// An instance as the agent sees it (/v1/agent/services values, the
// "Service" of /v1/health/service entries): ID, Service, Tags, Meta, Port,
// Address, Weights, EnableTagOverride, Datacenter, CreateIndex, ModifyIndex.
nlohmann::json AgentServiceJson(const Node& node, const ServiceInstance& svc);
// One element of /v1/catalog/service/:name: the node's fields flattened with
// the Service* fields.
nlohmann::json CatalogServiceJson(const Node& node, const ServiceInstance& svc);
// A check as /v1/health/* and /v1/agent/checks return it. `service_tags`
// fills ServiceTags (the owner's tags; empty for node checks).
nlohmann::json CheckJson(const Node& node, const CheckState& check,
                         const std::vector<std::string>& service_tags);
// One element of /v1/health/service/:name: {"Node","Service","Checks"}.
// `node_checks` are the node-level checks, which Consul lists with every
// instance of the node.
nlohmann::json HealthServiceJson(const Node& node, const InstanceHealth& ih,
                                 const std::vector<CheckState>& node_checks, uint64_t node_index);
// A KV entry: LockIndex, Key, Flags, Value (base64; null when empty),
// CreateIndex, ModifyIndex.
nlohmann::json KvJson(const KvEntry& e);

// ---- in -------------------------------------------------------------------
// Field names are matched as Go's encoding/json and Consul's decoder do:
// case-insensitively, and snake_case spellings ("deregister_critical_service_after",
// "service_id", "script_args") are accepted too.

struct ServiceDefinition {
  ServiceInstance svc;
  std::vector<CheckDef> checks;
};
// Body of PUT /v1/agent/service/register: Name, ID, Tags, Address, Port,
// Meta, Check, Checks. EINVAL with a one-line message (what is wrong).
Result<ServiceDefinition> ParseServiceDefinition(const nlohmann::json& j);

// One check definition: CheckID/ID, Name, Notes, Status, HTTP (+ Method,
// Header, Body, TLSSkipVerify), TCP, TTL, Args/ScriptArgs + DockerContainerID,
// Interval, Timeout, DeregisterCriticalServiceAfter, SuccessBeforePassing,
// FailuresBeforeCritical, and moor's extension "FastCGI": "IP:PORT" with
// "FastCGIPath". Check kinds moor does not run (GRPC, H2PING, UDP, alias,
// script checks outside a container) are EINVAL, never silently dropped.
// *service_id gets ServiceID when present (for /v1/agent/check/register).
Result<CheckDef> ParseCheckDefinition(const nlohmann::json& j, std::string* service_id = nullptr);

// A Consul duration: a Go duration string ("10s") or a number of
// nanoseconds. nullopt when malformed or negative.
std::optional<int64_t> ParseConsulDuration(const nlohmann::json& v);

}  // namespace moor::discovery::consul
