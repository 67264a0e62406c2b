// DNS server: sockets, threads, the per-query path (see dns_server.h).
#include "discovery/dns_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>

#include "discovery/discovery_metrics.h"
#include "discovery/dns_answer.h"
#include "discovery/dns_cache.h"
#include "discovery/dns_forward.h"

namespace moor::discovery {

namespace {

constexpr int kBatch = 32;
constexpr size_t kUdpMax = 4096;  // what we advertise and the most we send over UDP
constexpr int kTcpIdleMs = 10000;
constexpr int kMaxTcpConns = 256;

struct Worker {
  AnswerCache cache;
  std::mt19937 rng{std::random_device{}()};
  std::minstd_rand fast_rng{std::random_device{}()};
};

enum class Outcome { kReply, kForward, kDrop };

Result<int> Bind(const Upstream& a, int type) {
  int s = socket(a.addr.ss_family, type | SOCK_CLOEXEC, 0);
  if (s < 0) return FailErrno("dns: socket for " + a.text);
  int one = 1;
  if (type == SOCK_STREAM) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // The bridge's address may not exist yet when the daemon starts.
  if (a.addr.ss_family == AF_INET)
    setsockopt(s, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  else
    setsockopt(s, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
  if (type == SOCK_DGRAM) {
    int sz = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  }
  if (bind(s, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0) {
    int e = errno;
    close(s);
    const char* proto = type == SOCK_DGRAM ? "udp" : "tcp";
    if (e == EADDRINUSE)
      return Fail(Error(e, "dns: " + a.text + " (" + proto +
                               ") is already in use by another program"));
    return Fail(Error::FromErrno(e, "dns: bind " + a.text + " (" + proto + ")"));
  }
  if (type == SOCK_STREAM && listen(s, 128) != 0) {
    int e = errno;
    close(s);
    return Fail(Error::FromErrno(e, "dns: listen on " + a.text));
  }
  return s;
}

bool WaitReadable(int fd, int stop_fd, int timeout_ms) {
  pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    int r = poll(p, 2, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && !p[1].revents && p[0].revents;
  }
}

bool ReadFull(int fd, int stop_fd, uint8_t* buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    if (!WaitReadable(fd, stop_fd, kTcpIdleMs)) return false;
    ssize_t r = recv(fd, buf + off, n - off, MSG_DONTWAIT);
    if (r == 0) return false;
    if (r < 0 && errno != EINTR && errno != EAGAIN) return false;
    if (r > 0) off += static_cast<size_t>(r);
  }
  return true;
}

bool SendFramed(int fd, const uint8_t* data, size_t n) {
  uint8_t len[2] = {static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  iovec iov[2] = {{len, 2}, {const_cast<uint8_t*>(data), n}};
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  size_t total = n + 2, sent = 0;
  while (sent < total) {  // blocking socket; a short write is rare
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    sent += static_cast<size_t>(w);
    size_t skip = static_cast<size_t>(w);
    while (m.msg_iovlen && skip >= m.msg_iov[0].iov_len) {
      skip -= m.msg_iov[0].iov_len;
      ++m.msg_iov;
      --m.msg_iovlen;
    }
    if (m.msg_iovlen) {
      m.msg_iov[0].iov_base = static_cast<uint8_t*>(m.msg_iov[0].iov_base) + skip;
      m.msg_iov[0].iov_len -= skip;
    }
  }
  return true;
}

}  // namespace

struct DnsServer::Impl {
  const Catalog& cat;
  DnsOptions opts;
  DnsZone zone;
  std::vector<Upstream> ups;
  std::atomic<uint64_t> index{0};
  int watch = -1;
  std::atomic<uint64_t> queries{0}, answered{0}, nxdomain{0}, forwarded{0}, forward_failures{0}, truncated{0};
  std::unique_ptr<UdpForwarder> fwd;
  int stop_fd = -1;
  std::vector<int> udp_fds, tcp_fds;
  std::vector<std::thread> threads;
  std::mutex conn_mu;
  std::condition_variable conn_cv;
  std::set<int> conn_fds;
  bool started = false;

  Impl(const Catalog& c, DnsOptions o) : cat(c), opts(std::move(o)) {
    zone.domain = opts.domain;
    while (!zone.domain.empty() && zone.domain.back() == '.') zone.domain.pop_back();
    zone.service_ttl = opts.service_ttl;
    zone.container_ttl = opts.container_ttl;
  }

  Outcome Respond(Worker& w, const uint8_t* q, size_t n, uint8_t* out, size_t cap, bool tcp, size_t* out_len) {
    queries.fetch_add(1, std::memory_order_relaxed);
    *out_len = 0;
    auto sq = ParseSimpleQuery(q, n);
    if (sq) {
      // Read before answering: a change while we answer makes the entry stale.
      uint64_t idx = index.load(std::memory_order_acquire);
      const CachedAnswer* c = w.cache.Find(sq->key, idx);
      if (!c) {
        ldns_pkt* p = nullptr;
        if (ldns_wire2pkt(&p, q, n) != LDNS_STATUS_OK) return Outcome::kDrop;
        PktPtr owned(p);
        c = w.cache.Put(sq->key, MakeCachedAnswer(Answer(cat, zone, p, w.rng), idx));
      }
      if (c->forward) {
        forwarded.fetch_add(1, std::memory_order_relaxed);
        return Outcome::kForward;
      }
      size_t limit = tcp ? cap : std::min<size_t>(cap, sq->edns ? sq->udp_size : 512);
      auto r = Assemble(*c, q, *sq, out, limit, w.fast_rng);
      Count(c->header[1] & 0x0f, r.truncated);
      if (r.size) CountDnsQuery(static_cast<uint16_t>(q[sq->question_end - 4] << 8 | q[sq->question_end - 3]),
                                c->header[1] & 0x0f);
      *out_len = r.size;
      return r.size ? Outcome::kReply : Outcome::kDrop;
    }
    // Unusual queries (several questions, other opcodes, extra records): ldns all the way.
    ldns_pkt* p = nullptr;
    if (ldns_wire2pkt(&p, q, n) != LDNS_STATUS_OK) return Outcome::kDrop;
    PktPtr owned(p);
    if (ldns_pkt_qr(p)) return Outcome::kDrop;  // never answer answers
    DnsAnswer a = Answer(cat, zone, p, w.rng);
    if (a.forward) {
      forwarded.fetch_add(1, std::memory_order_relaxed);
      return Outcome::kForward;
    }
    size_t limit = cap;
    if (!tcp) limit = std::min<size_t>(cap, ldns_pkt_edns(p) ? std::max<uint16_t>(512, ldns_pkt_edns_udp_size(p)) : 512);
    bool trunc = false;
    *out_len = EncodePacket(a.response.get(), out, limit, &trunc);
    Count(ldns_pkt_get_rcode(a.response.get()), trunc);
    if (*out_len) CountDnsQuery(DnsQueryType(q, n), ldns_pkt_get_rcode(a.response.get()));
    return *out_len ? Outcome::kReply : Outcome::kDrop;
  }

  void Count(int rcode, bool trunc) {
    (rcode == LDNS_RCODE_NXDOMAIN ? nxdomain : answered).fetch_add(1, std::memory_order_relaxed);
    if (trunc) truncated.fetch_add(1, std::memory_order_relaxed);
  }

  void ServeUdp(int fd) {
    pthread_setname_np(pthread_self(), "moor-dns-udp");  // for benchmarks pinning it (taskset)
    Worker w;
    struct Slot {
      uint8_t in[kUdpMax];
      uint8_t out[kUdpMax];
      sockaddr_storage addr;
      iovec in_iov, out_iov;
    };
    auto slots = std::make_unique<Slot[]>(kBatch);
    mmsghdr in[kBatch], out[kBatch];
    for (;;) {
      if (!WaitReadable(fd, stop_fd, -1)) return;
      for (int i = 0; i < kBatch; ++i) {
        slots[i].in_iov = {slots[i].in, kUdpMax};
        std::memset(&in[i], 0, sizeof in[i]);
        in[i].msg_hdr.msg_iov = &slots[i].in_iov;
        in[i].msg_hdr.msg_iovlen = 1;
        in[i].msg_hdr.msg_name = &slots[i].addr;
        in[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
      int got = recvmmsg(fd, in, kBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) continue;
      int nout = 0;
      for (int i = 0; i < got; ++i) {
        Slot& s = slots[i];
        if (in[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
        size_t len = 0;
        Outcome o = Respond(w, s.in, in[i].msg_len, s.out, kUdpMax, false, &len);
        if (o == Outcome::kForward) {
          fwd->Submit(std::string(reinterpret_cast<char*>(s.in), in[i].msg_len), fd, s.addr,
                      in[i].msg_hdr.msg_namelen);
        } else if (o == Outcome::kReply) {
          s.out_iov = {s.out, len};
          std::memset(&out[nout], 0, sizeof out[nout]);
          out[nout].msg_hdr.msg_iov = &s.out_iov;
          out[nout].msg_hdr.msg_iovlen = 1;
          out[nout].msg_hdr.msg_name = &s.addr;
          out[nout].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
          ++nout;
        }
      }
      for (int sent = 0; sent < nout;) {
        int r = sendmmsg(fd, out + sent, static_cast<unsigned>(nout - sent), MSG_DONTWAIT);
        if (r > 0) {
          sent += r;
        } else if (r < 0 && errno == EINTR) {
          continue;
        } else {
          ++sent;  // skip the one the kernel refused (e.g. unreachable client)
        }
      }
    }
  }

  void AcceptLoop(int lfd) {
    for (;;) {
      if (!WaitReadable(lfd, stop_fd, -1)) return;
      int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lk(conn_mu);
      if (conn_fds.size() >= kMaxTcpConns) {
        close(c);
        continue;
      }
      conn_fds.insert(c);
      std::thread([this, c] { ServeConn(c); }).detach();
    }
  }

  void ServeConn(int fd) {
    auto w = std::make_unique<Worker>();
    std::vector<uint8_t> in(65535), out(65535);
    uint8_t len[2];
    while (ReadFull(fd, stop_fd, len, 2)) {
      size_t n = static_cast<size_t>(len[0] << 8 | len[1]);
      if (n < 12 || !ReadFull(fd, stop_fd, in.data(), n)) break;
      size_t olen = 0;
      Outcome o = Respond(*w, in.data(), n, out.data(), out.size(), true, &olen);
      bool ok = true;
      if (o == Outcome::kReply) {
        ok = SendFramed(fd, out.data(), olen);
      } else if (o == Outcome::kForward) {
        std::string q(reinterpret_cast<char*>(in.data()), n);
        auto r = ForwardTcp(ups, q, opts.forward_timeout_ms);
        std::string reply;
        if (r) {
          reply = std::move(*r);
        } else {
          forward_failures.fetch_add(1, std::memory_order_relaxed);
          reply = ServfailFor(in.data(), n);
        }
        if (reply.size() >= 12) CountDnsQuery(DnsQueryType(in.data(), n), reply[3] & 0x0f);
        ok = !reply.empty() && SendFramed(fd, reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
      } else {
        ok = false;
      }
      if (!ok) break;
    }
    std::lock_guard lk(conn_mu);
    close(fd);
    conn_fds.erase(fd);
    conn_cv.notify_all();
  }
};

DnsServer::DnsServer(const Catalog& catalog, DnsOptions opts)
    : impl_(std::make_unique<Impl>(catalog, std::move(opts))) {}

DnsServer::~DnsServer() { Stop(); }

Result<void> DnsServer::Start() {
  Impl& m = *impl_;
  if (m.started) return {};
  EnableDnsMetrics();
  for (auto& u : m.opts.upstreams) m.ups.push_back(TRY_CTX(ParseUpstream(u), "dns upstream"));
  std::vector<Upstream> listen;
  for (auto& l : m.opts.listen) listen.push_back(TRY_CTX(ParseListen(l), "dns listen address"));
  m.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.stop_fd < 0) return FailErrno("dns: eventfd");
  auto cleanup = [&] {
    for (int fd : m.udp_fds) close(fd);
    for (int fd : m.tcp_fds) close(fd);
    m.udp_fds.clear();
    m.tcp_fds.clear();
    close(m.stop_fd);
    m.stop_fd = -1;
  };
  for (auto& l : listen) {
    auto u = Bind(l, SOCK_DGRAM);
    if (!u) {
      cleanup();
      return Fail(u.error());
    }
    m.udp_fds.push_back(*u);
    auto t = Bind(l, SOCK_STREAM);
    if (!t) {
      cleanup();
      return Fail(t.error());
    }
    m.tcp_fds.push_back(*t);
  }
  m.fwd = std::make_unique<UdpForwarder>(m.ups, m.opts.forward_timeout_ms, &m.forward_failures);
  if (!m.ups.empty()) {
    if (auto r = m.fwd->Start(); !r) {
      cleanup();
      return r;
    }
  }
  m.index = m.cat.Index();
  m.watch = m.cat.Watch([&m](uint64_t i) { m.index.store(i, std::memory_order_release); });
  for (int fd : m.udp_fds) m.threads.emplace_back([&m, fd] { m.ServeUdp(fd); });
  for (int fd : m.tcp_fds) m.threads.emplace_back([&m, fd] { m.AcceptLoop(fd); });
  m.started = true;
  return {};
}

void DnsServer::Stop() {
  Impl& m = *impl_;
  if (!m.started) return;
  m.started = false;
  uint64_t one = 1;
  (void)!write(m.stop_fd, &one, sizeof one);
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  {
    std::unique_lock lk(m.conn_mu);
    for (int fd : m.conn_fds) shutdown(fd, SHUT_RDWR);
    m.conn_cv.wait(lk, [&] { return m.conn_fds.empty(); });
  }
  m.fwd->Stop();
  m.cat.Unwatch(m.watch);
  for (int fd : m.udp_fds) close(fd);
  for (int fd : m.tcp_fds) close(fd);
  m.udp_fds.clear();
  m.tcp_fds.clear();
  close(m.stop_fd);
  m.stop_fd = -1;
}

DnsServer::Stats DnsServer::stats() const {
  const Impl& m = *impl_;
  auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {ld(m.queries), ld(m.answered), ld(m.nxdomain), ld(m.forwarded), ld(m.forward_failures), ld(m.truncated)};
}

}  // namespace moor::discovery
