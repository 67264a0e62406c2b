// Docker's restart manager, as a pure state machine: whether an exited
// container is started again and after which delay. The delay starts at
// 100 ms and doubles on every exit, capped at one minute; a run of 10 s or
// more resets it. on-failure:N restarts non-zero exits at most N times
// (0: unlimited). A manual stop (stop/kill op) never restarts, whatever the
// policy — "always" and "unless-stopped" only differ when the daemon starts.
#pragma once

#include <cstdint>

#include "monitor/monitor_config.h"

namespace moor::monitor {

struct RestartDecision {
  bool restart = false;
  int64_t delay_ms = 0;
};

class RestartTracker {
 public:
  static constexpr int64_t kInitialDelayMs = 100;
  static constexpr int64_t kMaxDelayMs = 60'000;
  static constexpr int64_t kResetAfterMs = 10'000;

  explicit RestartTracker(RestartPolicy policy) : policy_(std::move(policy)) {}
  // Call once per exit of the container; counts the restart it decides on.
  RestartDecision OnExit(int exit_code, bool manually_stopped, int64_t ran_ms);
  int restart_count() const { return restart_count_; }

 private:
  RestartPolicy policy_;
  int64_t delay_ms_ = 0;  // 0: next delay is the initial one
  int restart_count_ = 0;
};

}  // namespace moor::monitor
