// Upstream relaying (see dns_forward.h).
#include "discovery/dns_forward.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

#include "discovery/discovery_metrics.h"
#include "discovery/dns_answer.h"
#include "discovery/dns_ldns.h"

namespace moor::discovery {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<Upstream> ParseAddr(const std::string& s, bool port_required) {
  std::string host = s, port;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) return FailInvalid("bad address \"" + s + "\": missing ']'");
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return FailInvalid("bad address \"" + s + "\"");
      port = s.substr(close + 2);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  if (port.empty() && port_required) return FailInvalid("bad address \"" + s + "\": expected IP:PORT");
  int p = 53;
  if (!port.empty()) {
    char* end = nullptr;
    long v = std::strtol(port.c_str(), &end, 10);
    if (*end || v <= 0 || v > 65535) return FailInvalid("bad port in \"" + s + "\"");
    p = static_cast<int>(v);
  }
  Upstream u;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&u.addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&u.addr);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(p));
    u.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(p));
    u.len = sizeof(sockaddr_in6);
  } else {
    return FailInvalid("bad address \"" + s + "\": not an IP address");
  }
  u.text = SockaddrText(u.addr);
  return u;
}

bool SameAddr(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    auto& x = reinterpret_cast<const sockaddr_in&>(a);
    auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, 16) == 0;
}

// Waits for `events` on fd until the deadline; false on timeout/error.
bool WaitFd(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

bool WriteAll(int fd, const std::string& s, int64_t deadline_ms) {
  size_t off = 0;
  while (off < s.size()) {
    if (!WaitFd(fd, POLLOUT, deadline_ms)) return false;
    ssize_t w = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno != EINTR && errno != EAGAIN) return false;
    if (w > 0) off += static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* buf, size_t n, int64_t deadline_ms) {
  size_t off = 0;
  while (off < n) {
    if (!WaitFd(fd, POLLIN, deadline_ms)) return false;
    ssize_t r = recv(fd, buf + off, n - off, 0);
    if (r == 0) return false;
    if (r < 0 && errno != EINTR && errno != EAGAIN) return false;
    if (r > 0) off += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

std::string SockaddrText(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    auto& x = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &x.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(x.sin_port));
  }
  auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  inet_ntop(AF_INET6, &x.sin6_addr, buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(x.sin6_port));
}

Result<Upstream> ParseUpstream(const std::string& s) { return ParseAddr(s, false); }
Result<Upstream> ParseListen(const std::string& s) { return ParseAddr(s, true); }

std::string ServfailFor(const uint8_t* q, size_t n) {
  ldns_pkt* query = nullptr;
  if (ldns_wire2pkt(&query, q, n) != LDNS_STATUS_OK) return "";
  PktPtr owned(query);
  PktPtr r = ErrorResponse(query, LDNS_RCODE_SERVFAIL);
  uint8_t* wire = nullptr;
  size_t len = 0;
  std::string out;
  if (ldns_pkt2wire(&wire, r.get(), &len) == LDNS_STATUS_OK) out.assign(reinterpret_cast<char*>(wire), len);
  free(wire);  // NOLINT: allocated by ldns
  return out;
}

UdpForwarder::UdpForwarder(std::vector<Upstream> upstreams, int timeout_ms, std::atomic<uint64_t>* failures)
    : upstreams_(std::move(upstreams)), timeout_ms_(timeout_ms), failures_(failures),
      seed_(std::random_device{}()) {}

UdpForwarder::~UdpForwarder() { Stop(); }

Result<void> UdpForwarder::Start() {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return FailErrno("dns forwarder: eventfd");
  for (auto& u : upstreams_) {
    int s = socket(u.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return FailErrno("dns forwarder: socket for " + u.text);
    socks_.push_back(s);
  }
  thread_ = std::thread([this] { Run(); });
  return {};
}

void UdpForwarder::Stop() {
  if (thread_.joinable()) {
    stop_ = true;
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  for (int s : socks_) close(s);
  socks_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void UdpForwarder::Submit(std::string query, int fd, const sockaddr_storage& client, socklen_t client_len) {
  Pending p{std::move(query), fd, client, client_len, 0, 0};
  if (upstreams_.empty() || wake_fd_ < 0) {
    Fail(p);
    return;
  }
  {
    std::lock_guard lk(mu_);
    if (incoming_.size() > 4096) {  // the upstreams are not keeping up: shed load
      Fail(p);
      return;
    }
    incoming_.push_back(std::move(p));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void UdpForwarder::Fail(const Pending& p) {
  failures_->fetch_add(1, std::memory_order_relaxed);
  std::string r = ServfailFor(reinterpret_cast<const uint8_t*>(p.query.data()), p.query.size());
  if (!r.empty()) {
    CountDnsQuery(DnsQueryType(reinterpret_cast<const uint8_t*>(p.query.data()), p.query.size()), 2);  // SERVFAIL
    sendto(p.fd, r.data(), r.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&p.client), p.client_len);
  }
}

void UdpForwarder::SendOrFail(uint16_t id, Pending& p) {
  std::string q = p.query;
  q[0] = static_cast<char>(id >> 8);
  q[1] = static_cast<char>(id);
  while (p.upstream < upstreams_.size()) {
    const Upstream& u = upstreams_[p.upstream];
    if (sendto(socks_[p.upstream], q.data(), q.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&u.addr),
               u.len) == static_cast<ssize_t>(q.size())) {
      p.deadline_ms = NowMs() + timeout_ms_;
      pending_[id] = std::move(p);
      return;
    }
    ++p.upstream;
  }
  Fail(p);
}

void UdpForwarder::OnReply(int sock) {
  uint8_t buf[65536];
  for (;;) {
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(sock, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) return;
    if (n < 12) continue;
    uint16_t id = static_cast<uint16_t>(buf[0] << 8 | buf[1]);
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending& p = it->second;
    // Only the upstream it was sent to may answer, with the same question.
    if (!SameAddr(from, upstreams_[p.upstream].addr)) continue;
    if (std::memcmp(buf + 4, p.query.data() + 4, 2) != 0) continue;  // QDCOUNT
    buf[0] = static_cast<uint8_t>(p.query[0]);
    buf[1] = static_cast<uint8_t>(p.query[1]);
    CountDnsQuery(DnsQueryType(reinterpret_cast<const uint8_t*>(p.query.data()), p.query.size()), buf[3] & 0x0f);
    sendto(p.fd, buf, static_cast<size_t>(n), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&p.client),
           p.client_len);
    pending_.erase(it);
  }
}

void UdpForwarder::Run() {
  std::minstd_rand rng(seed_);
  std::vector<pollfd> fds;
  while (!stop_) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    for (int s : socks_) fds.push_back({s, POLLIN, 0});
    int64_t now = NowMs();
    int timeout = -1;
    for (auto& [id, p] : pending_) {
      int64_t left = std::max<int64_t>(0, p.deadline_ms - now);
      if (timeout < 0 || left < timeout) timeout = static_cast<int>(left);
    }
    int r = poll(fds.data(), fds.size(), timeout);
    if (r < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
      std::deque<Pending> batch;
      {
        std::lock_guard lk(mu_);
        batch.swap(incoming_);
      }
      for (auto& p : batch) {
        if (pending_.size() >= 8192) {
          Fail(p);
          continue;
        }
        uint16_t id;
        do id = static_cast<uint16_t>(rng()); while (pending_.count(id));
        SendOrFail(id, p);
      }
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].revents) OnReply(fds[i].fd);
    now = NowMs();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ms > now) {
        ++it;
        continue;
      }
      Pending p = std::move(it->second);
      it = pending_.erase(it);
      ++p.upstream;  // timed out: the next upstream, under a new ID
      uint16_t id;
      do id = static_cast<uint16_t>(rng()); while (pending_.count(id));
      SendOrFail(id, p);
    }
  }
}

Result<std::string> ForwardTcp(const std::vector<Upstream>& upstreams, const std::string& query, int timeout_ms) {
  if (upstreams.empty()) return FailInvalid("no upstream DNS server configured");
  for (auto& u : upstreams) {
    int64_t deadline = NowMs() + timeout_ms;
    int s = socket(u.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) continue;
    bool ok = connect(s, reinterpret_cast<const sockaddr*>(&u.addr), u.len) == 0 || errno == EINPROGRESS;
    if (ok) {
      ok = WaitFd(s, POLLOUT, deadline);
      int err = 0;
      socklen_t el = sizeof err;
      ok = ok && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
    }
    std::string framed;
    framed.push_back(static_cast<char>(query.size() >> 8));
    framed.push_back(static_cast<char>(query.size()));
    framed += query;
    unsigned char lenbuf[2];
    std::string reply;
    ok = ok && WriteAll(s, framed, deadline) && ReadAll(s, reinterpret_cast<char*>(lenbuf), 2, deadline);
    if (ok) {
      reply.resize(static_cast<size_t>(lenbuf[0] << 8 | lenbuf[1]));
      ok = ReadAll(s, reply.data(), reply.size(), deadline);
    }
    close(s);
    if (ok && reply.size() >= 12) return reply;
  }
  return FailInvalid("no upstream DNS server answered");
}

}  // namespace moor::discovery
