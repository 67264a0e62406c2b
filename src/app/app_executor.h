// Carries out `moor up`, `down`, `scale` and `restart` against an AppBackend:
// images (build / pull when missing), networks and volumes, then PlanUp's
// actions service by service in dependency order, gated on readiness.
//
// A container is ready when it runs, its healthcheck (if any) says healthy,
// every discovery instance its labels ask for is in the catalog and
// passing, and each of its templates has been rendered once (nginx serves
// the real upstream list, not its placeholder). Readiness gates:
// - a replacement: the old container is stopped (deregistered and drained
//   first by the daemon) only once the new one is ready; if the new one does
//   not get ready within the timeout it is removed and the old one kept;
// - depends_on with condition service_healthy: the dependency's containers
//   must be ready before the dependent service is touched;
//   service_completed_successfully: they must have exited 0;
// - --wait: every container of the selected services at the end.
// Progress lines go to the log callback ("php-4: created", "php-1: removed").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "app/app_backend.h"
#include "app/app_file.h"
#include "common/error.h"

namespace moor::app {

struct UpOptions {
  std::vector<std::string> services;    // selected ("" = all); their dependencies come along
  std::map<std::string, int> scale;     // service → replicas, overriding the file
  bool remove_orphans = true;           // remove containers of services the file no longer has
  bool wait = false;                    // wait until every selected service is ready
  bool build = false;                   // build images even when present
  std::string pull = "missing";         // missing | always | never
  int64_t timeout_ns = 120'000'000'000;  // per readiness wait
};

struct DownOptions {
  bool volumes = false;          // also the app's named volumes
  int64_t timeout_ns = -1;       // stop timeout; -1 = each service's stop_grace_period
};

class AppExecutor {
 public:
  using Log = std::function<void(const std::string&)>;
  AppExecutor(AppBackend& backend, Log log) : b_(backend), log_(std::move(log)) {}

  // Makes what runs match the file. Idempotent: a second call with the same
  // file does nothing (and logs "APP: up to date").
  Result<void> Up(const AppFile& app, const UpOptions& o);
  // Removes every container, the networks the app created, and with
  // o.volumes its named volumes. `app` gives stop timeouts; only app.name is
  // needed (the file may be gone: everything is found by label).
  Result<void> Down(const AppFile& app, const DownOptions& o);
  // Restarts the services' containers one at a time (stop — deregistered
  // and drained first — then start), each ready before the next.
  Result<void> Restart(const AppFile& app, const std::vector<std::string>& services, int64_t timeout_ns);

  // Waits until the container is ready; an error says why not (exited with
  // its code and last log lines, unhealthy, check output) and what to do.
  Result<void> WaitReady(const std::string& id, const std::string& name, int64_t timeout_ns);

 private:
  AppBackend& b_;
  Log log_;
};

}  // namespace moor::app
