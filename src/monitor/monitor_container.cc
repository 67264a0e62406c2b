// The container side of the monitor: running the OCI runtime, its stdio,
// the pid file, exit handling and restarts.
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/strings.h"
#include "monitor/monitor.h"
#include "monitor/monitor_keys.h"
#include "monitor/oom.h"
#include "monitor/unix_socket.h"

namespace moor::monitor {
namespace {

// Output read per wakeup and stream before other fds get their turn.
constexpr int kReadsPerWakeup = 4;
constexpr size_t kStartErrorBytes = 4096;

void SetNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// The last non-empty line of the runtime's stderr: its error message.
std::string LastLine(std::string_view text) {
  text = Trim(text);
  size_t nl = text.rfind('\n');
  return std::string(Trim(nl == std::string_view::npos ? text : text.substr(nl + 1)));
}

}  // namespace

Result<void> Monitor::StartContainer() {
  std::string pid_file = cfg_.dir + "/pid";
  ::unlink(pid_file.c_str());
  int out[2], err[2], in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd err_r(err[0]), err_w(err[1]);
  UniqueFd in_r, in_w;
  if (cfg_.open_stdin && !cfg_.tty) {
    if (::pipe2(in, O_CLOEXEC) != 0) return FailErrno("pipe");
    in_r.Reset(in[0]);
    in_w.Reset(in[1]);
  } else {
    in_r.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!in_r) return FailErrno("open /dev/null");
  }
  std::vector<std::string> args = cfg_.runtime;
  args.insert(args.end(), {"run", "--bundle", cfg_.bundle});
  if (cfg_.tty) {
    std::string sock = cfg_.dir + "/console.sock";
    console_ = TRY(ListenUnix(sock));
    Watch(console_.get(), kKeyConsole, EPOLLIN);
    args.insert(args.end(), {"--console-socket", sock});
  }
  args.insert(args.end(), {"--pid-file", pid_file, cfg_.id});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Between fork and exec only async-signal-safe calls: the port proxy's thread exists.
  pid_t pid = ::fork();
  if (pid < 0) return FailErrno("fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Every signal back to its default: dispositions ignored by whoever started
    // the daemon (a shell's `&` ignores INT and QUIT) must not reach the
    // container, or `--stop-signal SIGQUIT` would do nothing.
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    if (::dup2(in_r.get(), 0) < 0 || ::dup2(out_w.get(), 1) < 0 || ::dup2(err_w.get(), 2) < 0) ::_exit(127);
    ::execvp(argv[0], argv.data());
    const char msg[] = "moor monitor: cannot execute the OCI runtime\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  runtime_pid_ = pid;
  run_started_ms_ = MonotonicMs();
  replay_.clear();
  replay_bytes_ = 0;
  pre_start_.clear();
  pre_start_bytes_ = 0;
  oom_baseline_ = ReadOomKillCount(cfg_.oom_file);
  kill_sent_ = false;
  start_stderr_.clear();
  stdin_buf_.clear();
  stdin_close_pending_ = false;
  out_ = std::move(out_r);
  err_ = std::move(err_r);
  stdin_ = std::move(in_w);
  SetNonBlocking(out_.get());
  SetNonBlocking(err_.get());
  if (stdin_) SetNonBlocking(stdin_.get());
  stdin_out_watched_ = false;
  Watch(out_.get(), kKeyStdout, EPOLLIN);
  Watch(err_.get(), kKeyStderr, EPOLLIN);
  if (state_.status != "restarting") state_.status = "starting";
  state_.error.clear();
  WriteState();
  // The pid file of the runtime appears in the dir: inotify tells us at once.
  // The instance lives only while the container starts (inotify instances are
  // limited per user — 128 by default — and hundreds of containers run at
  // once); without one, a 5 ms poll does the job.
  WatchPidFile();
  pid_poll_at_ms_ = MonotonicMs() + (inotify_ ? 50 : 5);
  return {};
}

void Monitor::WatchPidFile() {
  if (inotify_) return;
  inotify_.Reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) return;
  if (::inotify_add_watch(inotify_.get(), cfg_.dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    inotify_.Reset();
    return;
  }
  Watch(inotify_.get(), kKeyInotify, EPOLLIN);
}

void Monitor::UnwatchPidFile() {
  if (!inotify_) return;
  Unwatch(inotify_.get());
  inotify_.Reset();
}

void Monitor::CheckPidFile() {
  if (runtime_pid_ < 0 || state_.pid != 0) return;
  auto text = ReadFile(cfg_.dir + "/pid");
  auto pid = text ? ParseInt(Trim(*text)) : std::nullopt;
  if (!pid || *pid <= 0) {
    pid_poll_at_ms_ = MonotonicMs() + (inotify_ ? 50 : 5);
    return;
  }
  pid_poll_at_ms_ = -1;
  UnwatchPidFile();
  ArmOom();
  FlushPreStart();
  // A pidfd pins the process: signals never reach a recycled pid.
  pidfd_.Reset(PidfdOpen(static_cast<pid_t>(*pid)));
  state_.pid = static_cast<int>(*pid);
  state_.status = "running";
  state_.started_at = FormatRfc3339Nano(NowUnixNs());
  state_.exit_code = 0;
  state_.oom_killed = false;
  state_.finished_at.clear();
  WriteState();
  SendEvent(nlohmann::json({{"event", "start"}, {"pid", state_.pid}}).dump());
  if (stop_requested_) SignalContainer(stop_signal_);
}

void Monitor::AcceptConsole() {
  UniqueFd conn(::accept4(console_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return;
  // The runtime sends the pty master right after connecting; bound the wait anyway.
  timeval tv{5, 0};
  ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto master = ReceiveFd(conn.get());
  if (!master) return;
  Unwatch(console_.get());
  console_.Reset();
  ::unlink((cfg_.dir + "/console.sock").c_str());
  pty_ = std::move(*master);
  SetNonBlocking(pty_.get());
  if (rows_ && cols_) {
    winsize ws{rows_, cols_, 0, 0};
    ::ioctl(pty_.get(), TIOCSWINSZ, &ws);
  }
  stdin_out_watched_ = false;
  Watch(pty_.get(), kKeyPty, EPOLLIN);
  UpdateStdinInterest();
}

void Monitor::ReadOutput(int fd, std::string_view stream, bool drain) {
  if (fd < 0) return;
  char buf[65536];
  for (int i = 0; drain || i < kReadsPerWakeup; ++i) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // EOF, or EIO from a pty whose slave side is closed
      CloseOutput(fd);
      return;
    }
    DeliverOutput(stream, std::string_view(buf, static_cast<size_t>(n)));
  }
}

void Monitor::CloseOutput(int fd) {
  Unwatch(fd);
  if (fd == out_.get()) out_.Reset();
  if (fd == err_.get()) err_.Reset();
  if (fd == pty_.get()) pty_.Reset();
}

void Monitor::DeliverOutput(std::string_view stream, std::string_view data) {
  if (state_.pid == 0 && stream == "stderr" && start_stderr_.size() < kStartErrorBytes)
    start_stderr_.append(data.substr(0, kStartErrorBytes - start_stderr_.size()));
  if (state_.pid == 0 && runtime_pid_ > 0) {
    if (pre_start_bytes_ + data.size() <= kReplayLimit) {
      pre_start_.emplace_back(std::string(stream), std::string(data));
      pre_start_bytes_ += data.size();
      return;
    }
    FlushPreStart();  // this much output is the container's own
  }
  EmitOutput(stream, data);
}

void Monitor::FlushPreStart() {
  auto held = std::move(pre_start_);
  pre_start_.clear();
  pre_start_bytes_ = 0;
  for (const auto& [stream, data] : held) EmitOutput(stream, data);
}

void Monitor::EmitOutput(std::string_view stream, std::string_view data) {
  if (!cfg_.log_path.empty()) (void)log_.Write(stream, data);
  if (replay_bytes_ + data.size() <= kReplayLimit) {
    replay_.emplace_back(stream == "stderr", std::string(data));
    replay_bytes_ += data.size();
  }
  std::string frame;
  if (!cfg_.tty) {
    // Docker's multiplexed framing: [stream, 0, 0, 0, size as big-endian u32].
    frame.resize(8);
    frame[0] = stream == "stderr" ? 2 : 1;
    uint32_t len = static_cast<uint32_t>(data.size());
    for (int i = 0; i < 4; ++i) frame[4 + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
    frame.append(data);
  }
  for (auto& [id, c] : clients_) {
    if (c.kind != Client::Kind::kAttach) continue;
    if (stream == "stderr" ? !c.want_stderr : !c.want_stdout) continue;
    Send(c, cfg_.tty ? data : std::string_view(frame));
    UpdateClientEvents(id, c);
  }
}

void Monitor::PumpStdin() {
  int fd = cfg_.tty ? pty_.get() : stdin_.get();
  if (fd < 0) {
    stdin_buf_.clear();
  } else {
    while (!stdin_buf_.empty()) {
      ssize_t n = ::write(fd, stdin_buf_.data(), stdin_buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {  // the container closed its stdin
        stdin_buf_.clear();
        if (!cfg_.tty) {
          Unwatch(stdin_.get());
          stdin_.Reset();
        }
        break;
      }
      stdin_buf_.erase(0, static_cast<size_t>(n));
    }
  }
  if (stdin_buf_.empty() && stdin_close_pending_ && !cfg_.tty && stdin_) {
    Unwatch(stdin_.get());
    stdin_.Reset();  // EOF for the container
  }
  UpdateStdinInterest();
  UpdateStdinClients();
}

void Monitor::UpdateStdinInterest() {
  bool want = !stdin_buf_.empty();
  if (cfg_.tty) {
    if (!pty_ || want == stdin_out_watched_) return;
    Watch(pty_.get(), kKeyPty, EPOLLIN | (want ? EPOLLOUT : 0u), true);
  } else {
    if (!stdin_ || want == stdin_out_watched_) return;
    if (want)
      Watch(stdin_.get(), kKeyStdin, EPOLLOUT, stdin_out_watched_);
    else
      Unwatch(stdin_.get());
  }
  stdin_out_watched_ = want;
}

void Monitor::SignalContainer(int sig) {
  if (pidfd_) {
    if (PidfdSendSignal(pidfd_.get(), sig) == 0 || errno == ESRCH) return;
  }
  // No pid yet (the runtime is still creating): signal the runtime, which
  // forwards signals to the container it runs.
  if (runtime_pid_ > 0) ::kill(runtime_pid_, sig);
}

void Monitor::CloseStdio() {
  for (UniqueFd* fd : {&out_, &err_, &stdin_, &pty_, &console_}) {
    Unwatch(fd->get());
    fd->Reset();
  }
  stdin_out_watched_ = false;
  stdin_buf_.clear();
  ::unlink((cfg_.dir + "/console.sock").c_str());
}

void Monitor::OnRuntimeExit(int status) {
  int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  CheckPidFile();  // the pid file may be newer than our last look
  bool started = state_.pid != 0;
  // Everything the container wrote is in the pipes now: drain before closing.
  ReadOutput(out_.get(), "stdout", true);
  ReadOutput(err_.get(), "stderr", true);
  ReadOutput(pty_.get(), "stdout", true);
  if (started) {
    FlushPreStart();
  } else {  // the runtime's error: reported through state.error, not as output
    pre_start_.clear();
    pre_start_bytes_ = 0;
  }
  CloseStdio();
  if (!cfg_.log_path.empty()) (void)log_.Flush();
  runtime_pid_ = -1;
  UnwatchPidFile();
  pidfd_.Reset();
  kill_at_ms_ = -1;
  pid_poll_at_ms_ = -1;

  OnOomEvent();  // an event not yet read
  bool oom = exit_code == 137 && !cfg_.oom_file.empty() &&
             (oom_seen_ || ReadOomKillCount(cfg_.oom_file) > oom_baseline_);
  DisarmOom();
  bool manual = stop_requested_ || kill_sent_;
  state_.exit_code = exit_code;
  state_.oom_killed = oom;
  state_.pid = 0;
  state_.finished_at = FormatRfc3339Nano(NowUnixNs());
  if (manual) state_.manually_stopped = true;
  if (!started && exit_code != 0) {
    std::string msg = LastLine(start_stderr_);
    state_.error = msg.empty() ? "the OCI runtime exited with status " + std::to_string(exit_code) +
                                     " before the container started"
                               : msg;
  }
  SendEvent(nlohmann::json({{"event", "die"}, {"exit_code", exit_code}, {"oom_killed", oom}}).dump());
  // Attach streams end with the run (as docker attach does); queued output still goes out.
  for (auto& [id, c] : clients_) {
    if (c.kind != Client::Kind::kAttach) continue;
    if (c.want_stdin) --stdin_attachers_;
    c.want_stdin = false;
    c.kind = Client::Kind::kClosing;
    if (c.out.empty()) ::shutdown(c.fd.get(), SHUT_RDWR);
  }

  RestartDecision d = restart_.OnExit(exit_code, manual, MonotonicMs() - run_started_ms_);
  if (!d.restart) {
    Finish();
    return;
  }
  state_.status = "restarting";
  state_.restart_count = restart_.restart_count();
  WriteState();
  SendEvent(nlohmann::json(
                {{"event", "restart"}, {"restart_count", state_.restart_count}, {"delay_ms", d.delay_ms}})
                .dump());
  restart_at_ms_ = MonotonicMs() + d.delay_ms;
}

void Monitor::Finish() {
  if (finished_) return;
  finished_ = true;
  finish_deadline_ms_ = MonotonicMs() + 2000;
  restart_at_ms_ = -1;
  state_.status = "exited";
  state_.pid = 0;
  if (!cfg_.log_path.empty()) (void)log_.Flush();
  WriteState();
  std::string answer = StateJson() + "\n";
  for (auto& [id, c] : clients_) {
    if (c.kind != Client::Kind::kStopWaiter) continue;
    Send(c, answer);
    c.kind = Client::Kind::kClosing;
    UpdateClientEvents(id, c);
  }
  SendEvent(R"({"event":"exit"})");
  for (auto& [id, c] : clients_) {
    if (c.kind == Client::Kind::kSubscribe || c.kind == Client::Kind::kAttach)
      c.kind = Client::Kind::kClosing;
    UpdateClientEvents(id, c);
  }
}

}  // namespace moor::monitor
