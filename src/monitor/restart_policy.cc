#include "monitor/restart_policy.h"

#include <algorithm>

namespace moor::monitor {

RestartDecision RestartTracker::OnExit(int exit_code, bool manually_stopped, int64_t ran_ms) {
  if (policy_.name == "no" || policy_.name.empty() || manually_stopped) return {};
  // As moby: a long enough run forgets the backoff, whatever the exit.
  if (ran_ms >= kResetAfterMs) delay_ms_ = 0;
  delay_ms_ = delay_ms_ == 0 ? kInitialDelayMs : std::min(delay_ms_ * 2, kMaxDelayMs);
  bool restart = false;
  if (policy_.name == "always" || policy_.name == "unless-stopped") {
    restart = true;
  } else if (policy_.name == "on-failure") {
    bool budget = policy_.max_retries == 0 || restart_count_ < policy_.max_retries;
    restart = budget && exit_code != 0;
  }
  if (!restart) return {};
  ++restart_count_;
  return {true, delay_ms_};
}

}  // namespace moor::monitor
