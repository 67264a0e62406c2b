// What discovery needs from the container engine, behind a role interface
// so checks, templates and the registrar are unit-tested with a fake.
// Implemented over engine::Engine in the daemon (engine_container_ops.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::discovery {

struct ExecOutcome {
  int exit_code = 0;      // 137 when killed by the timeout
  std::string output;     // stdout + stderr, truncated to 4 KiB
  bool timed_out = false;
};

class ContainerOps {
 public:
  virtual ~ContainerOps() = default;
  // Runs argv inside a running container (its namespaces, as `exec`).
  virtual Result<ExecOutcome> Exec(const std::string& container_id, const std::vector<std::string>& argv,
                                   int64_t timeout_ns) = 0;
  // Reads a file inside the container's filesystem (its mount namespace).
  virtual Result<std::string> ReadFile(const std::string& container_id, const std::string& path) = 0;
  // Writes a file inside the container atomically: a temporary file in the
  // same directory renamed over the path (parents created 0755); if the
  // path is itself a mount point (a bound file) it is rewritten in place.
  virtual Result<void> WriteFile(const std::string& container_id, const std::string& path,
                                 const std::string& content, unsigned mode) = 0;
  // Sends a signal ("HUP", "SIGUSR2", "15") to the container's main process.
  virtual Result<void> Signal(const std::string& container_id, const std::string& signal) = 0;
};

}  // namespace moor::discovery
