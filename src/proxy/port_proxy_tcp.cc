// TCP forwarding: accept, connect to the backend (retrying while it is not
// listening yet), then relay with splice() until both directions are closed.
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <unordered_map>

#include "common/log.h"
#include "proxy/port_proxy_forwarders.h"
#include "proxy/port_proxy_splice.h"

namespace moor::net::proxy {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kRetryInterval{10};
// While a connect is in flight we wake at least this often, so a timer for a
// connection that already finished does not linger in the heap for minutes.
constexpr milliseconds kConnectCheck{1000};
// Back off accepting when out of file descriptors (the listen socket would
// otherwise stay readable and spin the loop).
constexpr milliseconds kAcceptPause{100};
constexpr int kAcceptsPerEvent = 64;
constexpr uint64_t kListenTag = 0;

// The backend may simply not be listening yet (container still starting) or
// its network not be up yet: keep trying until the deadline.
bool Retryable(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ETIMEDOUT:
    case ENETDOWN:
    case EHOSTDOWN:
    case ECONNRESET:
    case ECONNABORTED:
    case EAGAIN:
    case EADDRNOTAVAIL:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

void SetInt(int fd, int level, int opt, int value) {
  (void)setsockopt(fd, level, opt, &value, sizeof value);
}

class TcpForwarder final : public Forwarder {
 public:
  TcpForwarder(Reactor& reactor, UniqueFd listen, const sockaddr_in& backend, const ProxyOptions& opts,
               std::atomic<size_t>& active)
      : reactor_(reactor), listen_(std::move(listen)), backend_(backend), opts_(opts), active_(active) {}

  Result<void> Attach(uint32_t owner) override {
    owner_ = owner;
    return reactor_.Add(listen_.get(), EPOLLIN, owner_, kListenTag);
  }

  void OnEvent(uint64_t tag, uint32_t events) override;
  void OnTimer(uint64_t tag) override;

 private:
  enum class State { kWaitRetry, kConnecting, kRelaying };
  struct Conn {
    uint64_t id = 0;
    UniqueFd client, backend;
    State state = State::kWaitRetry;
    Clock::time_point deadline, retry_at;
    SpliceHalf up, down;  // client→backend, backend→client
    uint32_t client_events = 0, backend_events = 0;
    bool client_polled = false, backend_polled = false;  // registered with epoll
    bool client_hup = false, backend_hup = false;        // see OnRelayEvent
  };

  static uint64_t Tag(uint64_t id, bool backend_side) { return id << 1 | (backend_side ? 1 : 0); }

  void Accept();
  void PauseAccepting();
  // Each of these may destroy the connection (Close); callers return after.
  void StartConnect(Conn& c);
  void RetryLater(Conn& c);
  void OnConnectDone(Conn& c);
  void StartRelay(Conn& c);
  void OnRelayEvent(Conn& c, bool backend_side, uint32_t events);
  void Relay(Conn& c);
  bool SetInterest(Conn& c, bool backend_side, uint32_t events);
  void Close(Conn& c, bool reset);

  Reactor& reactor_;
  uint32_t owner_ = 0;
  UniqueFd listen_;
  sockaddr_in backend_;
  ProxyOptions opts_;
  std::atomic<size_t>& active_;
  uint64_t next_id_ = 1;  // 0 is the listener's tag
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
};

void TcpForwarder::OnEvent(uint64_t tag, uint32_t events) {
  if (tag == kListenTag) {
    Accept();
    return;
  }
  auto it = conns_.find(tag >> 1);
  if (it == conns_.end()) return;  // closed earlier in this batch of events
  Conn& c = *it->second;
  bool backend_side = tag & 1;
  if (c.state == State::kRelaying) {
    OnRelayEvent(c, backend_side, events);
  } else if (backend_side) {
    if (c.state == State::kConnecting) OnConnectDone(c);
  } else if (events & (EPOLLERR | EPOLLHUP)) {
    Close(c, false);  // the client gave up before the backend answered
  }
}

void TcpForwarder::OnTimer(uint64_t tag) {
  if (tag == kListenTag) {
    if (reactor_.Modify(listen_.get(), EPOLLIN, owner_, kListenTag)) Accept();
    return;
  }
  auto it = conns_.find(tag);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  auto now = Clock::now();
  if (c.state == State::kWaitRetry && now >= c.retry_at) {
    StartConnect(c);
  } else if (c.state == State::kConnecting) {
    if (now >= c.deadline) {
      log::Debug("port proxy: " + AddrString(backend_) + " did not accept within " +
                 std::to_string(opts_.connect_timeout_ms) + " ms; closing the client connection");
      Close(c, false);
    } else {
      reactor_.ScheduleAt(std::min(c.deadline, now + kConnectCheck), owner_, c.id);
    }
  }
}

void TcpForwarder::Accept() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        PauseAccepting();
        return;
      }
      continue;  // ECONNABORTED, EINTR, network errors: that client is gone, take the next
    }
    auto owned = std::make_unique<Conn>();
    Conn& c = *owned;
    c.id = next_id_++;
    c.client.Reset(fd);
    c.deadline = Clock::now() + milliseconds(opts_.connect_timeout_ms);
    conns_.emplace(c.id, std::move(owned));
    ++active_;
    // Registered without interest until the backend is connected: the
    // client's data waits in the kernel, but an RST still tells us it left.
    if (!reactor_.Add(fd, 0, owner_, Tag(c.id, false))) {
      Close(c, false);
      continue;
    }
    c.client_polled = true;
    StartConnect(c);
  }
}

void TcpForwarder::PauseAccepting() {
  log::Warn("port proxy: out of file descriptors, pausing accept on a published port");
  (void)reactor_.Modify(listen_.get(), 0, owner_, kListenTag);
  reactor_.ScheduleAt(Clock::now() + kAcceptPause, owner_, kListenTag);
}

void TcpForwarder::StartConnect(Conn& c) {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) {
    RetryLater(c);
    return;
  }
  int rc = connect(s.get(), reinterpret_cast<const sockaddr*>(&backend_), sizeof backend_);
  int err = rc == 0 ? 0 : errno;
  if (rc == 0 || err == EINPROGRESS) {
    c.backend = std::move(s);
    c.backend_polled = false;
    c.backend_events = 0;
    if (rc == 0) {
      StartRelay(c);
      return;
    }
    c.state = State::kConnecting;
    if (!reactor_.Add(c.backend.get(), EPOLLOUT, owner_, Tag(c.id, true))) {
      Close(c, false);
      return;
    }
    c.backend_polled = true;
    c.backend_events = EPOLLOUT;
    reactor_.ScheduleAt(std::min(c.deadline, Clock::now() + kConnectCheck), owner_, c.id);
    return;
  }
  if (Retryable(err)) {
    RetryLater(c);
    return;
  }
  log::Debug(Error::FromErrno(err, "port proxy: connect to " + AddrString(backend_)).message());
  Close(c, false);
}

void TcpForwarder::RetryLater(Conn& c) {
  c.backend.Reset();  // closing also removes it from epoll
  c.backend_polled = false;
  auto next = Clock::now() + kRetryInterval;
  if (next >= c.deadline) {
    log::Debug("port proxy: " + AddrString(backend_) + " did not accept within " +
               std::to_string(opts_.connect_timeout_ms) + " ms; closing the client connection");
    Close(c, false);
    return;
  }
  c.state = State::kWaitRetry;
  c.retry_at = next;
  reactor_.ScheduleAt(next, owner_, c.id);
}

void TcpForwarder::OnConnectDone(Conn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c.backend.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    StartRelay(c);
  } else if (Retryable(err)) {
    RetryLater(c);
  } else {
    log::Debug(Error::FromErrno(err, "port proxy: connect to " + AddrString(backend_)).message());
    Close(c, false);
  }
}

void TcpForwarder::StartRelay(Conn& c) {
  // A backend on a local address in the ephemeral range can be "reached" by
  // TCP simultaneous open with ourselves; that is a refused connect.
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (getsockname(c.backend.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
      local.sin_addr.s_addr == backend_.sin_addr.s_addr && local.sin_port == backend_.sin_port) {
    RetryLater(c);
    return;
  }
  // Like docker-proxy (Go sockets default to it): do not add Nagle delays.
  SetInt(c.client.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  SetInt(c.backend.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  auto up = NewSpliceHalf();
  auto down = NewSpliceHalf();
  if (!up || !down) {
    log::Warn("port proxy: " + (up ? down.error() : up.error()).message() + "; dropping a connection");
    Close(c, false);
    return;
  }
  c.up = std::move(*up);
  c.down = std::move(*down);
  c.state = State::kRelaying;
  Relay(c);
}

void TcpForwarder::OnRelayEvent(Conn& c, bool backend_side, uint32_t events) {
  if (events & EPOLLERR) {
    Close(c, true);
    return;
  }
  if (events & EPOLLHUP) {
    // Both directions of this socket are closed. HUP is reported whatever we
    // ask for, so it must leave epoll; it needs no polling anyway: reading it
    // never blocks (data or EOF is queued) and writing it fails at once.
    int fd = backend_side ? c.backend.get() : c.client.get();
    reactor_.Remove(fd);
    (backend_side ? c.backend_polled : c.client_polled) = false;
    (backend_side ? c.backend_hup : c.client_hup) = true;
  }
  Relay(c);
}

void TcpForwarder::Relay(Conn& c) {
  int err = Pump(c.up, c.client.get(), c.backend.get());
  if (err == 0) err = Pump(c.down, c.backend.get(), c.client.get());
  if (err != 0) {
    Close(c, true);  // pass the reset on to the other side
    return;
  }
  if (c.up.done() && c.down.done()) {
    Close(c, false);
    return;
  }
  constexpr uint32_t kIn = EPOLLIN, kOut = EPOLLOUT, kNone = 0;
  uint32_t client_events = (c.up.wants_read() ? kIn : kNone) | (c.down.wants_write() ? kOut : kNone);
  uint32_t backend_events = (c.down.wants_read() ? kIn : kNone) | (c.up.wants_write() ? kOut : kNone);
  if (!SetInterest(c, false, client_events) || !SetInterest(c, true, backend_events)) Close(c, true);
}

bool TcpForwarder::SetInterest(Conn& c, bool backend_side, uint32_t events) {
  if (backend_side ? c.backend_hup : c.client_hup) return true;
  int fd = backend_side ? c.backend.get() : c.client.get();
  bool& polled = backend_side ? c.backend_polled : c.client_polled;
  uint32_t& current = backend_side ? c.backend_events : c.client_events;
  if (polled && current == events) return true;
  auto r = polled ? reactor_.Modify(fd, events, owner_, Tag(c.id, backend_side))
                  : reactor_.Add(fd, events, owner_, Tag(c.id, backend_side));
  if (!r) return false;
  polled = true;
  current = events;
  return true;
}

void TcpForwarder::Close(Conn& c, bool reset) {
  if (reset) {
    // SO_LINGER 0: close() sends RST, so each peer learns the connection
    // broke instead of seeing a clean end of stream.
    linger hard{1, 0};
    if (c.client) (void)setsockopt(c.client.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    if (c.backend) (void)setsockopt(c.backend.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  --active_;
  conns_.erase(c.id);  // closes the sockets and pipes
}

}  // namespace

std::string AddrString(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

std::unique_ptr<Forwarder> NewTcpForwarder(Reactor& reactor, UniqueFd listen, const sockaddr_in& backend,
                                           const ProxyOptions& opts, std::atomic<size_t>& active) {
  return std::make_unique<TcpForwarder>(reactor, std::move(listen), backend, opts, active);
}

}  // namespace moor::net::proxy
