// Discovery's own Prometheus series (docs/metrics.md): DNS queries by type
// and response code, health-check results, and the catalog's instances per
// service and state. Recorded into metrics::DefaultRegistry().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "discovery/catalog.h"
#include "discovery/types.h"
#include "metrics/registry.h"

namespace moor::discovery {

// ---- moor_dns_queries_total{qtype, rcode} ----------------------------------
// Counted where a reply leaves the server (answered here or relayed from an
// upstream, SERVFAIL when every upstream failed); dropped packets are not.
// Lock-free (one relaxed atomic add); the series are rendered by a collector
// that EnableDnsMetrics() registers once per process.
void CountDnsQuery(uint16_t qtype, int rcode);
void EnableDnsMetrics();
// The type of a message's first question; 0 when it has none or is malformed.
uint16_t DnsQueryType(const uint8_t* msg, size_t n);
// "A", "AAAA", "SRV", … ("other" for types without a bucket).
std::string_view DnsTypeLabel(uint16_t qtype);
// "NOERROR", "NXDOMAIN", "SERVFAIL", … ("RCODE12" for unnamed ones).
std::string DnsRcodeLabel(int rcode);

// ---- moor_check_results_total{type, status} --------------------------------
// One per probe result (before thresholds) and per TTL update.
void CountCheckResult(std::string_view type, Health status);

// ---- moor_service_instances{app, service, state="passing|critical"} --------
// The engine's collector owns the family (it adds state="running" from the
// containers; a family may be rendered only once per scrape), so discovery
// hands it counts instead of samples. A warning counts as passing: the
// instance still takes traffic.
using ServiceHealthCounts = std::map<std::pair<std::string, std::string>, std::pair<int, int>>;  // (app, service) → (passing, critical)
// Maps an instance to its {app, service} label values; empty = app "" and
// the catalog's service name.
using InstanceLabels = std::function<std::pair<std::string, std::string>(const ServiceInstance&)>;
// Every instance of the catalog, ungated (a release not yet live counts too).
ServiceHealthCounts CountServiceHealth(const Catalog& catalog, const InstanceLabels& labels = {});
// The daemon's source of those counts: set by the discovery service while it
// runs (nullptr clears it). CurrentServiceHealth() is empty without a source.
void SetServiceHealthSource(std::function<ServiceHealthCounts()> source);
ServiceHealthCounts CurrentServiceHealth();
// The samples for the family already opened on `w` (both states per key).
void WriteServiceHealthSamples(metrics::SampleWriter& w, const ServiceHealthCounts& counts);

}  // namespace moor::discovery
