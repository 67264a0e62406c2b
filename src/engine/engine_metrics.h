// Prometheus metrics of the engine: per-container resource series, running
// instances per service, build info (a collector on metrics::DefaultRegistry(),
// so every scrape reads the cgroup files then), API latency and image pulls.
// Names and labels: docs (issue 8) and the brief's metric list.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "common/error.h"
#include "engine/container_record.h"
#include "metrics/registry.h"

namespace moor::engine {

class Engine;

// Counters of one running container. nullopt: not readable here (file
// missing, other cgroup version, no pid) — the sample is then left out.
struct ContainerUsage {
  std::optional<double> cpu_seconds;
  std::optional<uint64_t> memory_usage, memory_limit, memory_cache;  // limit 0 = unlimited
  std::optional<uint64_t> oom_kills, pids;
  std::optional<uint64_t> blkio_read, blkio_write;
  std::optional<uint64_t> rx_bytes, tx_bytes, rx_packets, tx_packets;  // all interfaces but lo
};

// Reads the container's cgroup (cgroup_path like "/moor/ID") under cgroup_root
// ("/sys/fs/cgroup"): v1 / hybrid layout when cgroup_root/memory exists, else
// v2. net_dev: the container's /proc/PID/net/dev ("" = none). Tests point
// both at fixture files.
ContainerUsage ReadContainerUsage(const std::string& cgroup_root, const std::string& cgroup_path,
                                  const std::string& net_dev);

// The label values every per-container series carries, in this order:
// container, id (12 hex), app, service, image, release.
std::vector<std::string> ContainerLabelNames();
metrics::Labels ContainerLabels(const ContainerRecord& r);

// "2026-11-26T21:49:35.123456789Z" → seconds since the epoch; nullopt when unparsable.
std::optional<double> ParseRfc3339(std::string_view s);

// One container as the collector sees it.
struct ContainerSample {
  ContainerRecord rec;
  std::optional<ContainerUsage> usage;  // running or paused containers only
};

// Writes the moor_container_* and moor_service_instances{state="running"}
// families (each once, all containers in it), moor_service_instances last so
// the caller can add discovery's passing/critical samples to it. Pure: the
// unit tests call it.
void WriteContainerMetrics(metrics::SampleWriter& w, const std::vector<ContainerSample>& containers);

// Registers the collector for engine (moor_container_*, moor_service_instances
// running, moor_build_info); the returned object removes it when destroyed.
class EngineMetrics {
 public:
  explicit EngineMetrics(Engine& engine);
  ~EngineMetrics();
  EngineMetrics(const EngineMetrics&) = delete;
  EngineMetrics& operator=(const EngineMetrics&) = delete;

 private:
  int collector_ = 0;
};

// For api::Router's observer: records moor_api_request_duration_seconds.
void ObserveApiRequest(std::string_view method, std::string_view route, int status, double seconds);
// moor_image_pulls_total{result="success|failure"}.
void CountImagePull(bool ok);

// GET /metrics: metrics::DefaultRegistry() rendered, Content-Type
// "text/plain; version=0.0.4; charset=utf-8".
void RegisterMetricsRoute(api::Router& router);
// --metrics-addr: "IP:PORT" or "[IPv6]:PORT"; the error names the flag.
Result<void> ValidateMetricsAddr(const std::string& addr);

}  // namespace moor::engine
