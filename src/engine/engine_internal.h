// Per-container runtime state of the engine and helpers shared by the
// engine_*.cc files. Not part of the engine's interface.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/fd.h"
#include "engine/container_record.h"
#include "engine/engine.h"
#include "monitor/monitor_config.h"

namespace moor::engine {

struct Engine::Live {
  std::mutex mu;
  std::condition_variable cv;  // notified on every state change
  ContainerRecord rec;
  bool removed = false;
  // Something is mounted / plumbed for the container (rootfs, netns) that
  // FinalizeLocked must undo once the monitor is gone.
  bool prepared = false;
  bool monitor_alive = false;
  uint64_t die_count = 0;  // every exit of the container process
  int sub_fd = -1;         // the subscription connection (shut down by ~Engine)
  std::atomic<bool> health_stop{false};
  bool health_running = false;
};

std::string RandomHex(size_t n);
std::string RandomName();  // "brave_turing"-like, for containers without --name
int64_t NowNs();
std::string NowRfc3339Nano();

// Reads one '\n'-terminated line (without it); false at EOF/error.
bool ReadLine(int fd, std::string& buf, std::string* line);

// Applies a monitor state to a record's state (status, pid, exit code, …).
void ApplyMonitorState(const monitor::MonitorState& m, ContainerState* s);

}  // namespace moor::engine
