// PHP-FPM's status page (pm.status_path) in its JSON form, the source of the
// moor_phpfpm_* metrics: parsed into a struct, fetched over FastCGI with no
// web server in between (the same client as the fastcgi health check).
#pragma once

#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::discovery {

// One pool's counters as `GET /status?json` reports them (PHP-FPM ≥ 5.3).
// A field the page lacks stays -1, so a caller can leave its series out
// instead of reporting a false 0.
struct FpmStatus {
  std::string pool;             // "pool"
  std::string process_manager;  // "process manager": static | dynamic | ondemand
  int64_t start_since = -1;     // "start since": seconds since the pool started
  int64_t accepted_conn = -1;   // "accepted conn" (counter)
  int64_t listen_queue = -1;    // "listen queue": requests waiting for a worker now
  int64_t max_listen_queue = -1;    // "max listen queue": the most ever waiting
  int64_t listen_queue_len = -1;    // "listen queue len": the socket's backlog size
  int64_t idle_processes = -1;      // "idle processes"
  int64_t active_processes = -1;    // "active processes"
  int64_t total_processes = -1;     // "total processes"
  int64_t max_active_processes = -1;  // "max active processes"
  int64_t max_children_reached = -1;  // "max children reached" (counter)
  int64_t slow_requests = -1;         // "slow requests" (counter)
};

// Parses the JSON status page. EINVAL (one line, quoting at most the start
// of the text) when it is not a JSON object, or when it has neither a pool
// name nor any counter (an HTML page, a PHP script's output). A field of the
// wrong type is treated as missing; unknown fields are ignored.
Result<FpmStatus> ParseFpmStatus(std::string_view json_text);

// GETs `path` with query "json" from the PHP-FPM pool at "IP:PORT" over
// FastCGI and parses it. Errors name the address and say what went wrong:
// unreachable, timed out, a non-200 status (the pool's pm.status_path is not
// `path`), or a page that is not the status page.
Result<FpmStatus> FetchFpmStatus(const std::string& host_port, const std::string& path, int64_t timeout_ns,
                                 std::stop_token stop = {});

}  // namespace moor::discovery
