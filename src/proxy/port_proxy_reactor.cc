#include "proxy/port_proxy_reactor.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <string>

#include "common/log.h"

namespace moor::net::proxy {
namespace {
constexpr uint32_t kStopOwner = 0xFFFF;
constexpr uint64_t kStopToken = uint64_t{kStopOwner} << Reactor::kTagBits;

uint64_t Token(uint32_t owner, uint64_t tag) {
  return (uint64_t{owner} << Reactor::kTagBits) | (tag & Reactor::kTagMask);
}
}  // namespace

Result<std::unique_ptr<Reactor>> Reactor::Create() {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return FailErrno("epoll_create1");
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return FailErrno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopToken;
  if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, stop.get(), &ev) != 0) return FailErrno("epoll_ctl(eventfd)");
  return std::unique_ptr<Reactor>(new Reactor(std::move(ep), std::move(stop)));
}

uint32_t Reactor::AddForwarder(std::unique_ptr<Forwarder> f) {
  forwarders_.push_back(std::move(f));
  return static_cast<uint32_t>(forwarders_.size() - 1);
}

Result<void> Reactor::Add(int fd, uint32_t events, uint32_t owner, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = Token(owner, tag);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return FailErrno("epoll_ctl(ADD)");
  return {};
}

Result<void> Reactor::Modify(int fd, uint32_t events, uint32_t owner, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = Token(owner, tag);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) return FailErrno("epoll_ctl(MOD)");
  return {};
}

void Reactor::Remove(int fd) {
  (void)epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void Reactor::ScheduleAt(Clock::time_point when, uint32_t owner, uint64_t tag) {
  timers_.push(Timer{when, owner, tag});
}

int Reactor::NextTimeoutMs() const {
  if (timers_.empty()) return -1;
  auto wait = timers_.top().when - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  // Round up: waking a little early would spin until the timer is due.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void Reactor::RunDueTimers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().when <= now) {
    Timer t = timers_.top();
    timers_.pop();
    if (t.owner < forwarders_.size()) forwarders_[t.owner]->OnTimer(t.tag);
  }
}

void Reactor::Run() {
  // SIGPIPE from splice() into a closed socket must not kill the monitor.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  for (;;) {
    int n = epoll_wait(epoll_.get(), events, kMaxEvents, NextTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      log::Error(std::string("port proxy: epoll_wait failed, published ports stop working: ") +
                 Error::FromErrno("epoll_wait").message());
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == kStopToken) return;
      uint32_t owner = static_cast<uint32_t>(token >> kTagBits);
      if (owner < forwarders_.size()) forwarders_[owner]->OnEvent(token & kTagMask, events[i].events);
    }
    RunDueTimers();
  }
}

void Reactor::RequestStop() {
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
}

void DiscardPendingSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{};
  while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
}

}  // namespace moor::net::proxy
