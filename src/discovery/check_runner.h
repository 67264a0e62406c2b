// Runs health checks: probes on their schedule with thresholds, TTL timers,
// and reports every status change to a sink. It knows nothing of the
// catalog: the daemon's glue decides what a result means (update a catalog
// check, or register a container's instance on its first pass).
//
// Each probed check runs on its own thread: the first probe runs at once on
// Add(), then at start_interval_ns until the first pass, then at interval_ns; Remove() and the destructor
// stop the threads promptly (they do not wait out an interval).
// Thresholds follow Consul: with success_before_passing = N a check turns
// passing only after N consecutive passes (likewise failures_before_critical
// for critical; warning results count as failures for the streak but report
// warning). A probe that takes longer than timeout_ns is critical.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "discovery/container_ops.h"
#include "discovery/types.h"

namespace moor::discovery {

struct CheckResult {
  Health status = Health::kCritical;
  std::string output;
};

// One probe of a def (tcp, http, fastcgi, exec). Exposed for tests and for
// `moor service check`-style one-shot runs. ops may be null (exec fails).
CheckResult RunProbe(const CheckDef& def, ContainerOps* ops);

// What Add() checks before starting anything: the type is known and the def
// has what its type needs. EINVAL naming the field.
Result<void> ValidateCheck(const CheckDef& def);

class CheckRunner {
 public:
  // Called on a runner thread whenever a check's reported status changes
  // (and once for the first result of each check), plus for TTL expiry.
  // `output` is the probe's output. The sink may call Remove() (also for
  // the reporting check) and TtlUpdate() without deadlocking.
  using Sink = std::function<void(const std::string& check_id, Health status, const std::string& output)>;

  CheckRunner(ContainerOps* ops, Sink sink);
  ~CheckRunner();  // stops every check
  CheckRunner(const CheckRunner&) = delete;
  CheckRunner& operator=(const CheckRunner&) = delete;

  // Starts (or replaces, if the id exists) a check. "docker" checks are
  // accepted and never probed. EINVAL for an unknown type or a def missing
  // what its type needs (tcp/fastcgi target, http URL, exec args +
  // container, ttl > 0) — the message names the field.
  Result<void> Add(const CheckDef& def);
  void Remove(const std::string& check_id);  // no-op if unknown
  bool Has(const std::string& check_id) const;

  // TTL checks: sets the status and restarts the TTL timer. ENOENT unknown,
  // EINVAL not a ttl check.
  Result<void> TtlUpdate(const std::string& check_id, Health status, const std::string& output);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::discovery
