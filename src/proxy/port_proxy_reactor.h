// Internal to the port proxy: the single-threaded epoll loop every forward
// runs on, and the interface a forward (TCP or UDP) implements.
//
// Events are routed by a 64-bit token instead of a pointer: the top 16 bits
// name the forwarder, the rest is a tag the forwarder chose (for a connection:
// its id and which side). A connection closed earlier in the same batch of
// events is then simply not found, so no deferred deletion is needed.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace moor::net::proxy {

using Clock = std::chrono::steady_clock;

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Registers the forward's sockets; `owner` is its id in the Reactor.
  virtual Result<void> Attach(uint32_t owner) = 0;
  virtual void OnEvent(uint64_t tag, uint32_t events) = 0;
  // A timer the forwarder scheduled is due. Timers are never cancelled: the
  // forwarder ignores ones that no longer apply.
  virtual void OnTimer(uint64_t tag) = 0;
};

class Reactor {
 public:
  static constexpr int kTagBits = 48;
  static constexpr uint64_t kTagMask = (uint64_t{1} << kTagBits) - 1;

  static Result<std::unique_ptr<Reactor>> Create();

  // Registers a forwarder; returns the owner id to pass to Add/Schedule.
  uint32_t AddForwarder(std::unique_ptr<Forwarder> f);

  Result<void> Add(int fd, uint32_t events, uint32_t owner, uint64_t tag);
  Result<void> Modify(int fd, uint32_t events, uint32_t owner, uint64_t tag);
  void Remove(int fd);
  void ScheduleAt(Clock::time_point when, uint32_t owner, uint64_t tag);

  // Runs until RequestStop(); call on the proxy thread.
  void Run();
  // Thread-safe.
  void RequestStop();

 private:
  struct Timer {
    Clock::time_point when;
    uint32_t owner;
    uint64_t tag;
    bool operator>(const Timer& o) const { return when > o.when; }
  };

  Reactor(UniqueFd epoll, UniqueFd stop) : epoll_(std::move(epoll)), stop_(std::move(stop)) {}
  int NextTimeoutMs() const;
  void RunDueTimers();

  UniqueFd epoll_;
  UniqueFd stop_;  // eventfd: written by RequestStop()
  std::vector<std::unique_ptr<Forwarder>> forwarders_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
};

// Drops a SIGPIPE that a write to a closed socket left pending on this thread
// (the proxy thread blocks SIGPIPE; splice() has no MSG_NOSIGNAL).
void DiscardPendingSigpipe();

}  // namespace moor::net::proxy
