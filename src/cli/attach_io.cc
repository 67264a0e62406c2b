#include "cli/attach_io.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli/stream_demux.h"
#include "common/fd.h"

namespace moor::cli {

namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

sigset_t RelayedSignals(bool with_termination) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  if (with_termination) {
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
  }
  return set;
}

}  // namespace

static_assert(sizeof(termios) <= 128);

RawTerminal::RawTerminal() {
  termios t{};
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t) != 0) return;
  std::memcpy(saved_, &t, sizeof t);
  cfmakeraw(&t);
  active_ = tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0;
}

RawTerminal::~RawTerminal() {
  Restore();
}

void RawTerminal::Restore() {
  if (!active_) return;
  termios t{};
  std::memcpy(&t, saved_, sizeof t);
  tcsetattr(STDIN_FILENO, TCSADRAIN, &t);
  active_ = false;
}

bool TerminalSize(int* rows, int* cols) {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0) return false;
  if (ws.ws_row == 0 || ws.ws_col == 0) return false;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return true;
}

SignalRelay::SignalRelay(std::function<void()> on_resize, std::function<void(int)> on_signal)
    : relays_termination_(static_cast<bool>(on_signal)) {
  sigset_t set = RelayedSignals(relays_termination_);
  // SIGUSR1 wakes the thread when the relay ends (the destructor sends it to
  // that thread), so the CLI does not wait out a poll interval before exiting.
  // It stays blocked in the process afterwards.
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, set, on_resize = std::move(on_resize), on_signal = std::move(on_signal)] {
    timespec tick{1, 0};  // a safety net only
    while (!stop_) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGWINCH && on_resize) on_resize();
      if ((sig == SIGINT || sig == SIGTERM) && on_signal) on_signal(sig);
    }
  });
}

SignalRelay::~SignalRelay() {
  stop_ = true;
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
  sigset_t set = RelayedSignals(relays_termination_);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

Result<void> PumpSession(int conn_fd, const std::string& pending, bool tty, bool send_stdin) {
  int cancel[2];
  if (pipe2(cancel, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd cancel_r(cancel[0]), cancel_w(cancel[1]);
  std::thread input;
  if (send_stdin) {
    input = std::thread([conn_fd, cancel_fd = cancel_r.get()] {
      char buf[16384];
      for (;;) {
        pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return;
        }
        if (p[1].revents) return;
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ::shutdown(conn_fd, SHUT_WR);  // the container sees EOF on its stdin
          return;
        }
        if (!WriteAll(conn_fd, std::string_view(buf, static_cast<size_t>(n)))) return;
      }
    });
  }
  StreamDemuxer demux(
      [](int stream, std::string_view d) { WriteAll(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, d); });
  auto deliver = [&](std::string_view d) -> Result<void> {
    if (tty) {
      WriteAll(STDOUT_FILENO, d);
      return {};
    }
    return demux.Feed(d);
  };
  Result<void> result = deliver(pending);
  char buf[32768];
  while (result) {
    ssize_t n = ::read(conn_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = FailErrno("read from the daemon");
      break;
    }
    if (n == 0) break;
    result = deliver(std::string_view(buf, static_cast<size_t>(n)));
  }
  if (input.joinable()) {
    (void)!::write(cancel_w.get(), "x", 1);
    input.join();
  }
  return result;
}

}  // namespace moor::cli
