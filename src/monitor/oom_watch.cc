// OOM events of the container's cgroup, watched while the container runs.
// Reading the oom_kill counter after the exit does not work: the runtime
// removes the cgroup as soon as the container is gone. So, as runc does:
//  - cgroup v1: an eventfd registered for memory.oom_control through
//    cgroup.event_control. The kernel signals it on an OOM and also when the
//    cgroup is removed, so a wake-up while the cgroup still exists is an OOM,
//    and after removal a count of 2 or more includes one.
//  - cgroup v2: memory.events, which raises POLLPRI when it changes; its
//    oom_kill counter is compared with the value at start.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <string>

#include "common/file.h"
#include "monitor/monitor.h"
#include "monitor/monitor_keys.h"
#include "monitor/oom.h"

namespace moor::monitor {

namespace {
bool IsV1(const std::string& oom_file) {
  const std::string suffix = "/memory.oom_control";
  return oom_file.size() > suffix.size() && oom_file.compare(oom_file.size() - suffix.size(), suffix.size(), suffix) == 0;
}
std::string DirOf(const std::string& path) { return path.substr(0, path.find_last_of('/')); }
}  // namespace

void Monitor::ArmOom() {
  DisarmOom();
  oom_seen_ = false;
  if (cfg_.oom_file.empty()) return;
  if (IsV1(cfg_.oom_file)) {
    oom_control_.Reset(::open(cfg_.oom_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!oom_control_) return;
    oom_event_.Reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!oom_event_) return;
    std::string line = std::to_string(oom_event_.get()) + " " + std::to_string(oom_control_.get());
    if (!WriteExisting(DirOf(cfg_.oom_file) + "/cgroup.event_control", line)) {
      oom_event_.Reset();
      oom_control_.Reset();
      return;
    }
    Watch(oom_event_.get(), kKeyOom, EPOLLIN);
  } else {
    // The baseline was read when the run started (StartContainer).
    oom_event_.Reset(::open(cfg_.oom_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!oom_event_) return;
    Watch(oom_event_.get(), kKeyOom, EPOLLPRI);
  }
}

void Monitor::OnOomEvent() {
  if (!oom_event_) return;
  if (IsV1(cfg_.oom_file)) {
    uint64_t n = 0;
    if (::read(oom_event_.get(), &n, sizeof n) != sizeof n) return;
    bool cgroup_gone = ::access(cfg_.oom_file.c_str(), F_OK) != 0;
    if (!cgroup_gone || n >= 2) oom_seen_ = true;
    if (cgroup_gone) DisarmOom();
  } else {
    char buf[512];
    ssize_t got = ::pread(oom_event_.get(), buf, sizeof buf - 1, 0);
    if (got <= 0) {
      DisarmOom();
      return;
    }
    auto count = ParseOomKillCount(std::string_view(buf, static_cast<size_t>(got)));
    if (count && *count > oom_baseline_) oom_seen_ = true;
  }
}

void Monitor::DisarmOom() {
  if (oom_event_) Unwatch(oom_event_.get());
  oom_event_.Reset();
  oom_control_.Reset();
}

}  // namespace moor::monitor
