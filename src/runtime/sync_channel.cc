#include "runtime/sync_channel.h"

#include <sys/socket.h>

#include <cstring>

namespace moor::runtime {
namespace {
struct Header {
  uint32_t type;
  int32_t errnum;
  int64_t value;
};
constexpr size_t kMaxPacket = 4096;
}  // namespace

Result<std::pair<SyncChannel, SyncChannel>> SyncChannel::Pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return FailErrno("socketpair");
  return std::make_pair(SyncChannel(UniqueFd(fds[0])), SyncChannel(UniqueFd(fds[1])));
}

Result<void> SyncChannel::Send(SyncMsg type, int64_t value) const {
  Header h{static_cast<uint32_t>(type), 0, value};
  ssize_t n;
  do {
    n = ::send(fd_.get(), &h, sizeof h, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof h)) return FailErrno("sync: send");
  return {};
}

Result<void> SyncChannel::SendError(const Error& e) const {
  char buf[kMaxPacket];
  Header h{static_cast<uint32_t>(SyncMsg::kError), e.errnum(), e.exit_code()};
  std::memcpy(buf, &h, sizeof h);
  size_t len = std::min(e.message().size(), kMaxPacket - sizeof h);
  std::memcpy(buf + sizeof h, e.message().data(), len);
  if (::send(fd_.get(), buf, sizeof h + len, MSG_NOSIGNAL) < 0) return FailErrno("sync: send");
  return {};
}

Result<SyncPacket> SyncChannel::Receive() const {
  char buf[kMaxPacket];
  ssize_t n;
  do {
    n = ::recv(fd_.get(), buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("sync: receive");
  if (n == 0) return Fail(Error(EPIPE, "container process exited during setup"));
  if (static_cast<size_t>(n) < sizeof(Header)) return Fail(Error(EPROTO, "sync: short packet"));
  Header h;
  std::memcpy(&h, buf, sizeof h);
  SyncPacket p;
  p.type = static_cast<SyncMsg>(h.type);
  p.errnum = h.errnum;
  p.value = h.value;
  p.text.assign(buf + sizeof h, static_cast<size_t>(n) - sizeof h);
  return p;
}

void SyncChannel::WaitClosed() const {
  char buf[kMaxPacket];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

Result<SyncPacket> SyncChannel::Expect(SyncMsg type) const {
  SyncPacket p = TRY(Receive());
  if (p.type == SyncMsg::kError) return Fail(Error(p.errnum, p.text).WithExitCode(static_cast<int>(p.value)));
  if (p.type != type)
    return Fail(Error(EPROTO, "sync: expected message " + std::to_string(static_cast<uint32_t>(type)) + ", got " +
                                  std::to_string(static_cast<uint32_t>(p.type))));
  return p;
}

}  // namespace moor::runtime
