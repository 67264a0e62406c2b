// Datagram outputs (gelf-udp, syslog-udp). UDP confirms nothing: a record
// counts as delivered once sendto() took it. The socket is not connected,
// so an ICMP "port unreachable" from an absent receiver does not turn into
// errors on later sends (they would only ever concern earlier datagrams).
#include <netdb.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "logship/output/transport.h"

namespace moor::logship::internal {
namespace {

// RFC 5426 §3.2: every syslog receiver SHOULD accept datagrams of up to 2048
// octets, larger ones are left to the receiver's goodwill (and to IP
// fragmentation). Longer messages are cut to this size, on a UTF-8 boundary;
// syslog-tcp carries them whole.
constexpr size_t kSyslogUdpMax = 2048;

size_t Utf8Cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t cut = max;
  // Back up over continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut > 0 ? cut : max;
}

class UdpTransport : public Transport {
 public:
  UdpTransport(const OutputConfig& cfg, const StopSignal& stop) : cfg_(cfg), stop_(stop) {
    uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(MonotonicNs());
    rng_.seed(seed);
  }

  Result<void> Connect() override {
    Close();
    auto hp = TRY(SplitHostPort(cfg_.address));
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* list = nullptr;
    int gai = ::getaddrinfo(hp.first.c_str(), hp.second.c_str(), &hints, &list);
    if (gai != 0) return Fail(Error(EHOSTUNREACH, "resolve " + hp.first + ": " + ::gai_strerror(gai)));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
    fd_.Reset(::socket(list->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd_) return Fail(Error(errno, "socket: " + ErrnoText(errno)));
    std::memcpy(&addr_, list->ai_addr, list->ai_addrlen);
    addr_len_ = list->ai_addrlen;
    return {};
  }

  void Close() override { fd_.Reset(); }

  Result<SendOutcome> Send(std::span<const SpooledRecord> recs) override {
    SendOutcome out;
    for (const SpooledRecord& r : recs) {
      msg_.clear();
      if (cfg_.type == OutputType::kGelfUdp) {
        EncodeGelf(r.record, *r.source, &msg_);
        auto chunks = GelfChunks(msg_, rng_(), cfg_.gelf_chunk_size);
        if (chunks.empty()) {
          ++out.rejected;
          out.rejection = "a GELF message of " + std::to_string(msg_.size()) + " bytes needs more than 128 chunks of " +
                          std::to_string(cfg_.gelf_chunk_size) + "; dropped (use gelf-tcp for long records)";
          continue;
        }
        for (const std::string& c : chunks) out.bytes += TRY(SendOne(c));
      } else {
        EncodeSyslog5424(r.record, *r.source, cfg_.syslog, &msg_);
        out.bytes += TRY(SendOne(std::string_view(msg_).substr(0, Utf8Cut(msg_, kSyslogUdpMax))));
      }
    }
    out.ticket = ++sent_;
    return out;
  }

  Result<uint64_t> Confirmed() override { return sent_; }

 private:
  Result<size_t> SendOne(std::string_view d) {
    for (;;) {
      if (stop_.raised()) return Fail(Error(ECANCELED, "stopped"));
      ssize_t n =
          ::sendto(fd_.get(), d.data(), d.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
      if (n >= 0) return d.size();
      if (errno == EINTR) continue;
      return Fail(Error(errno, "sendto: " + ErrnoText(errno)));
    }
  }

  const OutputConfig& cfg_;
  const StopSignal& stop_;
  UniqueFd fd_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  uint64_t sent_ = 0;
  std::string msg_;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Transport> NewUdpTransport(const OutputConfig& cfg, const StopSignal& stop) {
  return std::make_unique<UdpTransport>(cfg, stop);
}

}  // namespace moor::logship::internal
