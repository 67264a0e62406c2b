// Stream outputs over TCP (logstash json_lines, gelf-tcp, syslog-tcp).
//
// Delivery is judged without any reply from the receiver (none of these
// protocols has one): a batch counts once the kernel's send queue no longer
// holds its last byte (SIOCOUTQ: the peer's TCP acknowledged it) and the
// connection has stayed up for ack_delay after it was written. A receiver
// that crashes closes (or resets) the connection; what it took in during the
// last ack_delay is then sent again.
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <deque>

#include "logship/output/transport.h"

namespace moor::logship::internal {
namespace {

std::string Seconds(int64_t ns) {
  char buf[32];
  (void)std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

class TcpTransport : public Transport {
 public:
  TcpTransport(const OutputConfig& cfg, const StopSignal& stop) : cfg_(cfg), stop_(stop) {}

  Result<void> Connect() override {
    Close();
    auto hp = TRY(SplitHostPort(cfg_.address));
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* list = nullptr;
    // Resolved at every connect: a name may move to another address.
    int gai = ::getaddrinfo(hp.first.c_str(), hp.second.c_str(), &hints, &list);
    if (gai != 0) return Fail(Error(EHOSTUNREACH, "resolve " + hp.first + ": " + ::gai_strerror(gai)));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
    Error last(EHOSTUNREACH, "no address");
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      auto fd = ConnectOne(ai);
      if (fd) {
        fd_ = std::move(*fd);
        return {};
      }
      last = std::move(fd.error());
      if (last.errnum() == ECANCELED) break;
    }
    return Fail(std::move(last));
  }

  void Close() override {
    fd_.Reset();
    written_ = 0;
    confirmed_ = 0;
    marks_.clear();
  }

  Result<SendOutcome> Send(std::span<const SpooledRecord> recs) override {
    buf_.clear();
    for (const SpooledRecord& r : recs) EncodeStreamRecord(cfg_, r, &buf_);
    TRY(WriteAll(buf_));
    written_ += buf_.size();
    marks_.push_back({written_, MonotonicNs()});
    SendOutcome out;
    out.ticket = written_;
    out.bytes = buf_.size();
    return out;
  }

  Result<uint64_t> Confirmed() override {
    if (!fd_) return confirmed_;
    TRY(CheckOpen());
    if (marks_.empty()) return confirmed_;
    int queued = 0;
    if (::ioctl(fd_.get(), SIOCOUTQ, &queued) != 0) return Fail(Error(errno, "SIOCOUTQ: " + ErrnoText(errno)));
    uint64_t acked = written_ - static_cast<uint64_t>(queued);
    int64_t now = MonotonicNs();
    while (!marks_.empty() && marks_.front().end <= acked && now - marks_.front().written_ns >= cfg_.ack_delay_ns) {
      confirmed_ = marks_.front().end;
      marks_.pop_front();
    }
    return confirmed_;
  }

  bool Waiting() const override { return !marks_.empty(); }

 private:
  struct Mark {
    uint64_t end;        // written_ after the batch
    int64_t written_ns;  // monotonic time its last byte was written
  };

  Result<UniqueFd> ConnectOne(const addrinfo* ai) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) return Fail(Error(errno, "socket: " + ErrnoText(errno)));
    // Batches are large writes; without Nagle their tails go out at once,
    // so the receiver's ACK (and our confirmation) is not held back.
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) return Fail(Error(errno, ErrnoText(errno)));
      int64_t deadline = MonotonicNs() + cfg_.timeout_ns;
      for (;;) {
        int64_t left = deadline - MonotonicNs();
        if (left <= 0) return Fail(Error(ETIMEDOUT, "connect timed out after " + Seconds(cfg_.timeout_ns)));
        pollfd p[2] = {{fd.get(), POLLOUT, 0}, {stop_.fd(), POLLIN, 0}};
        int n = ::poll(p, 2, static_cast<int>((left + 999'999) / 1'000'000));
        if (n < 0 && errno != EINTR) return Fail(Error(errno, "poll: " + ErrnoText(errno)));
        if (stop_.raised()) return Fail(Error(ECANCELED, "stopped"));
        if (n > 0 && p[0].revents != 0) break;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) return Fail(Error(err, ErrnoText(err)));
    }
    return fd;
  }

  // The receivers never send: readable means closed (0), reset, or stray
  // bytes, which are dropped.
  Result<void> CheckOpen() {
    char scratch[4096];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), scratch, sizeof scratch, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n == 0) return Fail(Error(ECONNRESET, "connection closed by the receiver"));
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      if (errno == EINTR) continue;
      return Fail(Error(errno, ErrnoText(errno)));
    }
  }

  // Writes everything, waiting for room with poll (woken by Stop). A
  // receiver that takes nothing for timeout_ns counts as gone.
  Result<void> WriteAll(std::string_view data) {
    int64_t stall_deadline = MonotonicNs() + cfg_.timeout_ns;
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        stall_deadline = MonotonicNs() + cfg_.timeout_ns;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Fail(Error(errno, "send: " + ErrnoText(errno)));
      int64_t left = stall_deadline - MonotonicNs();
      if (left <= 0) {
        return Fail(Error(ETIMEDOUT, "the receiver took nothing for " + Seconds(cfg_.timeout_ns)));
      }
      pollfd p[2] = {{fd_.get(), POLLOUT | POLLRDHUP, 0}, {stop_.fd(), POLLIN, 0}};
      int r = ::poll(p, 2, static_cast<int>((left + 999'999) / 1'000'000));
      if (r < 0 && errno != EINTR) return Fail(Error(errno, "poll: " + ErrnoText(errno)));
      if (stop_.raised()) return Fail(Error(ECANCELED, "stopped"));
      if (r > 0 && (p[0].revents & (POLLRDHUP | POLLIN | POLLERR | POLLHUP))) TRY(CheckOpen());
    }
    return {};
  }

  const OutputConfig& cfg_;
  const StopSignal& stop_;
  UniqueFd fd_;
  uint64_t written_ = 0;    // bytes since connect
  uint64_t confirmed_ = 0;  // the last confirmed mark's end
  std::deque<Mark> marks_;
  std::string buf_;
};

}  // namespace

std::unique_ptr<Transport> NewTcpTransport(const OutputConfig& cfg, const StopSignal& stop) {
  return std::make_unique<TcpTransport>(cfg, stop);
}

}  // namespace moor::logship::internal
