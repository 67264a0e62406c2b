// The control socket (DIR/monitor.sock): requests, attach and subscribe
// streams. Writes to clients never block: output is queued per client and a
// client whose queue exceeds kClientBufferLimit is disconnected.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "monitor/monitor.h"
#include "monitor/monitor_keys.h"

namespace moor::monitor {
namespace {

constexpr size_t kMaxRequest = 64 * 1024;

std::string ErrorLine(const std::string& message) {
  return nlohmann::json({{"error", message}}).dump() + "\n";
}

}  // namespace

std::string Monitor::StateJson() {
  return MonitorStateToJson(state_).value_or("{}");
}

void Monitor::AcceptClients() {
  for (;;) {
    int fd = ::accept4(control_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of fds: the listener stays for the next try
    uint64_t id = next_client_++;
    Client& c = clients_[id];
    c.fd.Reset(fd);
    UpdateClientEvents(id, c);
  }
}

void Monitor::DropClient(Client& c) {
  if (c.want_stdin) --stdin_attachers_;
  c.want_stdin = false;
  c.out.clear();
  c.dead = true;
  c.kind = Client::Kind::kClosing;
}

void Monitor::Send(Client& c, std::string_view data) {
  if (c.dead) return;
  if (c.out.empty()) {
    while (!data.empty()) {
      ssize_t n = ::send(c.fd.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        DropClient(c);
        return;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (data.empty()) return;
  if (c.out.size() + data.size() > kClientBufferLimit) {
    DropClient(c);  // too slow or gone: never let it hold up the container
    return;
  }
  c.out.append(data);
}

void Monitor::FlushClient(Client& c) {
  size_t done = 0;
  while (done < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + done, c.out.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      DropClient(c);
      return;
    }
    done += static_cast<size_t>(n);
  }
  c.out.erase(0, done);
}

void Monitor::SendEvent(const std::string& json_line) {
  std::string line = json_line + "\n";
  for (auto& [id, c] : clients_) {
    if (c.kind != Client::Kind::kSubscribe) continue;
    Send(c, line);
    UpdateClientEvents(id, c);
  }
}

void Monitor::UpdateClientEvents(uint64_t id, Client& c) {
  uint32_t ev = 0;
  bool reading = !c.in_eof && c.kind != Client::Kind::kClosing;
  if (reading && c.want_stdin && stdin_buf_.size() >= kStdinBufferLimit) reading = false;
  if (reading) ev |= EPOLLIN;
  if (!c.out.empty()) ev |= EPOLLOUT;
  if (c.registered && ev == c.events) return;
  // A client with no interest stays registered: EPOLLHUP/EPOLLERR still report its end.
  Watch(c.fd.get(), kKeyClientBase + id, ev, c.registered);
  c.events = ev;
  c.registered = true;
}

void Monitor::UpdateStdinClients() {
  for (auto& [id, c] : clients_)
    if (c.want_stdin) UpdateClientEvents(id, c);
}

void Monitor::ClientStdinEof(Client& c) {
  if (!c.want_stdin) return;
  c.want_stdin = false;
  if (--stdin_attachers_ == 0) {
    stdin_close_pending_ = true;
    PumpStdin();
  }
}

void Monitor::OnClientEvent(uint64_t id, uint32_t events) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (events & EPOLLOUT) FlushClient(c);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c.kind != Client::Kind::kClosing && !c.in_eof) {
    char buf[65536];
    for (int i = 0; i < 4 && !c.in_eof && c.kind != Client::Kind::kClosing; ++i) {
      ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0) {
        DropClient(c);
        break;
      }
      if (n == 0) {
        c.in_eof = true;
        if (c.kind == Client::Kind::kRequest) DropClient(c);  // left before asking anything
        ClientStdinEof(c);
        break;
      }
      std::string_view data(buf, static_cast<size_t>(n));
      if (c.kind == Client::Kind::kRequest) {
        c.in.append(data);
        size_t nl = c.in.find('\n');
        if (nl == std::string::npos) {
          if (c.in.size() > kMaxRequest) {
            Send(c, ErrorLine("request too long"));
            c.kind = Client::Kind::kClosing;
          }
          continue;
        }
        std::string line = c.in.substr(0, nl), rest = c.in.substr(nl + 1);
        c.in.clear();
        HandleRequest(id, c, line, rest);
      } else if (c.want_stdin) {
        stdin_buf_.append(data);
        PumpStdin();
        if (stdin_buf_.size() >= kStdinBufferLimit) break;
      }
      // Other streams: what the client sends is ignored.
    }
  }
  if ((events & EPOLLERR) || ((events & EPOLLHUP) && c.in_eof)) DropClient(c);
  if (c.kind == Client::Kind::kClosing && c.out.empty()) {
    ::shutdown(c.fd.get(), SHUT_RDWR);  // closed by the sweep in Run()
  }
  UpdateClientEvents(id, c);
}

void Monitor::HandleRequest(uint64_t id, Client& c, std::string_view line, std::string_view rest) {
  auto req = nlohmann::json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string()) {
    Send(c, ErrorLine("bad request: expected a JSON object with \"op\""));
    c.kind = Client::Kind::kClosing;
    return;
  }
  auto num = [&](const char* key, int def) {
    auto f = req.find(key);
    return f != req.end() && f->is_number_integer() ? f->get<int>() : def;
  };
  auto flag = [&](const char* key, bool def) {
    auto f = req.find(key);
    return f != req.end() && f->is_boolean() ? f->get<bool>() : def;
  };
  std::string op = req["op"].get<std::string>();
  bool running = runtime_pid_ > 0;
  if (op == "state") {
    Send(c, StateJson() + "\n");
    c.kind = Client::Kind::kClosing;
  } else if (op == "stop") {
    int sig = num("signal", cfg_.stop_signal);
    int timeout = num("timeout", 10);
    if (sig < 1 || sig > 64) {
      Send(c, ErrorLine("stop: invalid signal " + std::to_string(sig)));
      c.kind = Client::Kind::kClosing;
      return;
    }
    c.kind = Client::Kind::kStopWaiter;
    if (finished_) {
      Send(c, StateJson() + "\n");
      c.kind = Client::Kind::kClosing;
      return;
    }
    stop_requested_ = true;
    stop_signal_ = sig;
    if (!running) {  // waiting to restart: cancel it, that is the stop
      state_.manually_stopped = true;
      Finish();
      return;
    }
    SignalContainer(sig);
    if (timeout >= 0) {
      int64_t at = MonotonicMs() + int64_t{timeout} * 1000;
      kill_at_ms_ = kill_at_ms_ < 0 ? at : std::min(kill_at_ms_, at);
    }
  } else if (op == "kill") {
    int sig = num("signal", SIGKILL);
    if (sig < 1 || sig > 64) {
      Send(c, ErrorLine("kill: invalid signal " + std::to_string(sig)));
    } else if (!running) {
      Send(c, ErrorLine("container " + cfg_.id + " is not running"));
    } else {
      kill_sent_ = true;
      SignalContainer(sig);
      Send(c, "{\"ok\":true}\n");
    }
    c.kind = Client::Kind::kClosing;
  } else if (op == "subscribe") {
    c.kind = finished_ ? Client::Kind::kClosing : Client::Kind::kSubscribe;
    Send(c, "{\"ok\":true}\n");
    if (finished_) Send(c, "{\"event\":\"exit\"}\n");
  } else if (op == "attach") {
    Send(c, "{\"ok\":true}\n");
    c.want_stdout = flag("stdout", true);
    c.want_stderr = flag("stderr", true);
    if (flag("replay", false)) {
      // What the current (or just ended) run wrote so far, then live output.
      for (const auto& [is_err, bytes] : replay_) {
        if (is_err ? !c.want_stderr : !c.want_stdout) continue;
        if (cfg_.tty) {
          Send(c, bytes);
          continue;
        }
        std::string frame(8, '\0');
        frame[0] = is_err ? 2 : 1;
        uint32_t len = static_cast<uint32_t>(bytes.size());
        for (int i = 0; i < 4; ++i) frame[4 + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
        frame.append(bytes);
        Send(c, frame);
      }
    }
    if (finished_ || !running) {
      c.kind = Client::Kind::kClosing;  // nothing (more) to attach to
      UpdateClientEvents(id, c);
      return;
    }
    c.kind = Client::Kind::kAttach;
    c.want_stdin = flag("stdin", false) && cfg_.open_stdin;
    if (c.want_stdin) {
      ++stdin_attachers_;
      stdin_close_pending_ = false;
      if (!rest.empty()) {
        stdin_buf_.append(rest);
        PumpStdin();
      }
    }
  } else if (op == "resize") {
    int h = num("height", 0), w = num("width", 0);
    if (!cfg_.tty) {
      Send(c, ErrorLine("container " + cfg_.id + " has no TTY to resize"));
    } else if (h <= 0 || w <= 0 || h > 65535 || w > 65535) {
      Send(c, ErrorLine("resize: height and width must be between 1 and 65535"));
    } else {
      rows_ = static_cast<unsigned short>(h);
      cols_ = static_cast<unsigned short>(w);
      if (pty_) {
        winsize ws{rows_, cols_, 0, 0};
        ::ioctl(pty_.get(), TIOCSWINSZ, &ws);
      }
      Send(c, "{\"ok\":true}\n");
    }
    c.kind = Client::Kind::kClosing;
  } else {
    Send(c, ErrorLine("unknown op \"" + op + "\""));
    c.kind = Client::Kind::kClosing;
  }
  UpdateClientEvents(id, c);
}

}  // namespace moor::monitor
