// The local end of an attached container or exec session: copies our stdin
// to the raw connection and its output to our stdout / stderr (demultiplexed
// unless a TTY is attached), puts the terminal in raw mode for -t, and
// forwards window-size changes and, for non-TTY sessions, Ctrl-C / SIGTERM.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "common/error.h"

namespace moor::cli {

// Raw mode on our terminal (stdin) for the life of the object; a no-op when
// stdin is not a terminal. Restores the saved settings on destruction.
class RawTerminal {
 public:
  RawTerminal();
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  void Restore();

 private:
  bool active_ = false;
  unsigned char saved_[128] = {};  // struct termios, kept opaque here
};

// Size of our terminal (rows, columns); false when stdout/stdin is no terminal.
bool TerminalSize(int* rows, int* cols);

// Waits for SIGWINCH / SIGINT / SIGTERM on a thread of its own (the signals
// are blocked in every thread, so construct it before starting others) and
// calls the handlers. Without on_signal, SIGINT / SIGTERM keep their default
// action. Unblocks the signals again on destruction.
class SignalRelay {
 public:
  SignalRelay(std::function<void()> on_resize, std::function<void(int sig)> on_signal);
  ~SignalRelay();
  SignalRelay(const SignalRelay&) = delete;
  SignalRelay& operator=(const SignalRelay&) = delete;

 private:
  bool relays_termination_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Copies until the connection's output ends. `pending` are bytes already
// read off the connection. With send_stdin, our stdin goes to the connection
// and its EOF half-closes the connection's write side.
Result<void> PumpSession(int conn_fd, const std::string& pending, bool tty, bool send_stdin);

}  // namespace moor::cli
