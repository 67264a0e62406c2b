// The monitor's event loop: setup, epoll dispatch, signals, timers, state file.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "common/file.h"
#include "monitor/monitor.h"
#include "monitor/monitor_keys.h"
#include "monitor/unix_socket.h"

namespace moor::monitor {

int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Monitor::Monitor(MonitorConfig config)
    : cfg_(std::move(config)),
      restart_(cfg_.restart),
      log_(cfg_.log_path, cfg_.log_max_size, cfg_.log_max_files) {}

Monitor::~Monitor() = default;

Result<void> Monitor::Setup() {
  TRY(MkdirAll(cfg_.dir, 0711));
  state_.monitor_pid = static_cast<int>(::getpid());
  state_.status = "starting";
  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return FailErrno("epoll_create1");

  // Signals arrive as events; SIGPIPE would kill us when a client goes away.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return FailErrno("sigprocmask");
  signal_fd_.Reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd_) return FailErrno("signalfd");
  Watch(signal_fd_.get(), kKeySignal, EPOLLIN);


  if (!cfg_.log_path.empty()) TRY(log_.Open());
  TRY_CTX(StartPorts(), "published ports");
  TRY(WriteFileAtomic(cfg_.dir + "/monitor.pid", std::to_string(state_.monitor_pid) + "\n"));
  WriteState();
  control_ = TRY(ListenUnix(cfg_.dir + "/monitor.sock"));
  Watch(control_.get(), kKeyControl, EPOLLIN);
  return {};
}

Result<void> Monitor::StartPorts() {
  if (cfg_.ports.empty()) return {};
  std::vector<net::PortForward> forwards;
  for (const auto& p : cfg_.ports) {
    net::PortForward f;
    f.listen_fd = UniqueFd(p.fd);
    // Inherited from the daemon without close-on-exec; the runtime must not get it.
    if (::fcntl(p.fd, F_SETFD, FD_CLOEXEC) != 0) return FailErrno("port fd " + std::to_string(p.fd));
    f.udp = p.udp;
    f.backend.sin_family = AF_INET;
    f.backend.sin_port = htons(static_cast<uint16_t>(p.backend_port));
    if (::inet_pton(AF_INET, p.backend_ip.c_str(), &f.backend.sin_addr) != 1)
      return FailInvalid("backend address \"" + p.backend_ip + "\" is not an IPv4 address");
    forwards.push_back(std::move(f));
  }
  proxy_ = TRY(net::PortProxy::Start(std::move(forwards)));
  return {};
}

void Monitor::WriteState() {
  auto json = MonitorStateToJson(state_);
  if (json) (void)WriteFileAtomic(cfg_.dir + "/state.json", *json + "\n");
}

void Monitor::Watch(int fd, uint64_t key, uint32_t events, bool modify) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key;
  ::epoll_ctl(epoll_.get(), modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
}

void Monitor::Unwatch(int fd) {
  if (fd >= 0) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int Monitor::Run() {
  if (auto r = StartContainer(); !r) {
    state_.error = r.error().message();
    state_.exit_code = 128;
    state_.finished_at = FormatRfc3339Nano(NowUnixNs());
    Finish();
  }
  epoll_event evs[64];
  for (;;) {
    if (finished_) {
      bool pending = std::any_of(clients_.begin(), clients_.end(),
                                 [](const auto& kv) { return !kv.second.out.empty(); });
      if (!pending || MonotonicMs() >= finish_deadline_ms_) break;
    }
    int n = ::epoll_wait(epoll_.get(), evs, 64, TimeoutMs());
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) Dispatch(evs[i].data.u64, evs[i].events);
    OnTimers();
    // Clients marked dead while handling events are closed here, outside any iteration.
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (it->second.kind == Client::Kind::kClosing && it->second.out.empty()) {
        Unwatch(it->second.fd.get());
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
  }
  ::unlink((cfg_.dir + "/monitor.sock").c_str());
  ::unlink((cfg_.dir + "/monitor.pid").c_str());
  return 0;
}

void Monitor::Dispatch(uint64_t key, uint32_t events) {
  if (key >= kKeyClientBase) {
    OnClientEvent(key - kKeyClientBase, events);
    return;
  }
  switch (key) {
    case kKeySignal:
      OnSignal();
      break;
    case kKeyControl:
      AcceptClients();
      break;
    case kKeyOom:
      OnOomEvent();
      break;
    case kKeyInotify: {
      char buf[4096];
      while (::read(inotify_.get(), buf, sizeof buf) > 0) {
      }
      CheckPidFile();
      break;
    }
    case kKeyStdout:
      ReadOutput(out_.get(), "stdout", false);
      break;
    case kKeyStderr:
      ReadOutput(err_.get(), "stderr", false);
      break;
    case kKeyPty:
      if (events & EPOLLOUT) PumpStdin();
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ReadOutput(pty_.get(), "stdout", false);
      break;
    case kKeyStdin:
      PumpStdin();
      break;
    case kKeyConsole:
      AcceptConsole();
      break;
    default:
      break;
  }
}

void Monitor::OnSignal() {
  signalfd_siginfo si;
  while (::read(signal_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
      // Shutdown of the host: stop the container as a stop op with the default timeout.
      if (finished_) continue;
      stop_requested_ = true;
      if (state_.status == "restarting") {
        restart_at_ms_ = -1;
        state_.manually_stopped = true;
        Finish();
      } else {
        SignalContainer(cfg_.stop_signal);
        int64_t at = MonotonicMs() + 10'000;
        kill_at_ms_ = kill_at_ms_ < 0 ? at : std::min(kill_at_ms_, at);
      }
    }
  }
  // SIGCHLD: reap everything — as subreaper we inherit the container's orphans too.
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (pid == runtime_pid_) OnRuntimeExit(status);
  }
}

int Monitor::TimeoutMs() const {
  int64_t next = -1;
  for (int64_t t : {kill_at_ms_, restart_at_ms_, pid_poll_at_ms_, finished_ ? finish_deadline_ms_ : -1})
    if (t >= 0 && (next < 0 || t < next)) next = t;
  if (next < 0) return -1;
  return static_cast<int>(std::clamp<int64_t>(next - MonotonicMs(), 0, 60'000));
}

void Monitor::OnTimers() {
  int64_t now = MonotonicMs();
  if (kill_at_ms_ >= 0 && now >= kill_at_ms_) {
    kill_at_ms_ = -1;
    SignalContainer(SIGKILL);
  }
  if (pid_poll_at_ms_ >= 0 && now >= pid_poll_at_ms_) {
    pid_poll_at_ms_ = -1;
    CheckPidFile();
  }
  if (restart_at_ms_ >= 0 && now >= restart_at_ms_) {
    restart_at_ms_ = -1;
    if (auto r = StartContainer(); !r) {
      state_.error = r.error().message();
      state_.exit_code = 128;
      state_.finished_at = FormatRfc3339Nano(NowUnixNs());
      Finish();
    }
  }
}

}  // namespace moor::monitor
