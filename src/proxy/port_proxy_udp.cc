// UDP forwarding: one connected socket to the backend per client address (a
// "flow"), so replies can be told apart; replies leave through the listen
// socket so the client sees them come from the address it sent to.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "proxy/port_proxy_forwarders.h"

namespace moor::net::proxy {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kSweepTag = 0;
constexpr int kDatagramsPerEvent = 64;
// Each flow holds a socket; a flood of spoofed sources must not exhaust fds.
constexpr size_t kMaxFlows = 4096;
constexpr size_t kMaxDatagram = 65536;

uint64_t ClientKey(const sockaddr_in& a) {
  return uint64_t{a.sin_addr.s_addr} << 16 | a.sin_port;
}

class UdpForwarder final : public Forwarder {
 public:
  UdpForwarder(Reactor& reactor, UniqueFd listen, const sockaddr_in& backend, const ProxyOptions& opts,
               std::atomic<size_t>& active)
      : reactor_(reactor),
        listen_(std::move(listen)),
        backend_(backend),
        active_(active),
        idle_(milliseconds(std::max(opts.udp_idle_timeout_ms, 1))),
        sweep_every_(std::clamp(idle_ / 4, milliseconds(10), milliseconds(1000))),
        buf_(kMaxDatagram) {}

  Result<void> Attach(uint32_t owner) override {
    owner_ = owner;
    return reactor_.Add(listen_.get(), EPOLLIN, owner_, kListenTag);
  }

  void OnEvent(uint64_t tag, uint32_t events) override;
  void OnTimer(uint64_t tag) override;

 private:
  struct Flow {
    uint64_t id = 0;
    uint64_t key = 0;
    sockaddr_in client{};
    UniqueFd sock;  // connected to the backend
    Clock::time_point last;
  };

  void FromClients();
  void FromBackend(Flow& f);
  Flow* FindOrCreate(const sockaddr_in& client);
  void Drop(Flow& f);

  Reactor& reactor_;
  uint32_t owner_ = 0;
  UniqueFd listen_;
  sockaddr_in backend_;
  std::atomic<size_t>& active_;
  milliseconds idle_;
  milliseconds sweep_every_;
  std::vector<char> buf_;
  uint64_t next_id_ = 1;                                       // 0 is the listener's tag
  std::unordered_map<uint64_t, std::unique_ptr<Flow>> flows_;  // by id
  std::unordered_map<uint64_t, uint64_t> by_client_;           // ClientKey → id
  bool sweep_scheduled_ = false;
};

void UdpForwarder::OnEvent(uint64_t tag, uint32_t) {
  if (tag == kListenTag) {
    FromClients();
    return;
  }
  auto it = flows_.find(tag);
  if (it != flows_.end()) FromBackend(*it->second);
}

void UdpForwarder::FromClients() {
  for (int i = 0; i < kDatagramsPerEvent; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    auto* from_addr = reinterpret_cast<sockaddr*>(&from);
    ssize_t n = recvfrom(listen_.get(), buf_.data(), buf_.size(), MSG_DONTWAIT, from_addr, &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or an error that a later read will not fix either
    }
    if (from.sin_family != AF_INET) continue;
    Flow* f = FindOrCreate(from);
    if (!f) continue;  // dropped, as the network may drop any datagram
    f->last = Clock::now();
    // Errors (a queued ICMP "port unreachable" while the backend is not up
    // yet, a full buffer) lose this datagram only; the flow stays.
    (void)send(f->sock.get(), buf_.data(), static_cast<size_t>(n), MSG_DONTWAIT);
  }
}

void UdpForwarder::FromBackend(Flow& f) {
  for (int i = 0; i < kDatagramsPerEvent; ++i) {
    ssize_t n = recv(f.sock.get(), buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue;  // the error is consumed; read on
      return;
    }
    f.last = Clock::now();
    (void)sendto(listen_.get(), buf_.data(), static_cast<size_t>(n), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&f.client), sizeof f.client);
  }
}

UdpForwarder::Flow* UdpForwarder::FindOrCreate(const sockaddr_in& client) {
  uint64_t key = ClientKey(client);
  if (auto it = by_client_.find(key); it != by_client_.end()) return flows_.at(it->second).get();
  if (flows_.size() >= kMaxFlows) return nullptr;
  UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return nullptr;
  if (connect(s.get(), reinterpret_cast<const sockaddr*>(&backend_), sizeof backend_) != 0) {
    log::Debug(Error::FromErrno("port proxy: connect UDP flow to " + AddrString(backend_)).message());
    return nullptr;
  }
  auto owned = std::make_unique<Flow>();
  Flow& f = *owned;
  f.id = next_id_++;
  f.key = key;
  f.client = client;
  f.sock = std::move(s);
  if (!reactor_.Add(f.sock.get(), EPOLLIN, owner_, f.id)) return nullptr;
  flows_.emplace(f.id, std::move(owned));
  by_client_.emplace(key, f.id);
  ++active_;
  if (!sweep_scheduled_) {
    sweep_scheduled_ = true;
    reactor_.ScheduleAt(Clock::now() + sweep_every_, owner_, kSweepTag);
  }
  return &f;
}

void UdpForwarder::OnTimer(uint64_t tag) {
  if (tag != kSweepTag) return;
  sweep_scheduled_ = false;
  auto now = Clock::now();
  std::vector<Flow*> expired;
  for (auto& [id, f] : flows_) {
    if (now - f->last >= idle_) expired.push_back(f.get());
  }
  for (Flow* f : expired) Drop(*f);
  if (!flows_.empty()) {
    sweep_scheduled_ = true;
    reactor_.ScheduleAt(now + sweep_every_, owner_, kSweepTag);
  }
}

void UdpForwarder::Drop(Flow& f) {
  by_client_.erase(f.key);
  --active_;
  flows_.erase(f.id);  // closing the socket removes it from epoll
}

}  // namespace

std::unique_ptr<Forwarder> NewUdpForwarder(Reactor& reactor, UniqueFd listen, const sockaddr_in& backend,
                                           const ProxyOptions& opts, std::atomic<size_t>& active) {
  return std::make_unique<UdpForwarder>(reactor, std::move(listen), backend, opts, active);
}

}  // namespace moor::net::proxy
