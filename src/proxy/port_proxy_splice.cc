#include "proxy/port_proxy_splice.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "proxy/port_proxy_reactor.h"

namespace moor::net::proxy {
namespace {
// splice() moves at most what fits in the pipe (64 KiB by default); asking for
// more just means "as much as you can".
constexpr size_t kSpliceLen = size_t{1} << 20;
// Rounds of read+write per call: ~1 MiB per event with default pipes.
constexpr int kMaxRounds = 16;
constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
}  // namespace

Result<SpliceHalf> NewSpliceHalf() {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return FailErrno("pipe2");
  SpliceHalf h;
  h.pipe_r.Reset(fds[0]);
  h.pipe_w.Reset(fds[1]);
  return h;
}

int Pump(SpliceHalf& h, int src, int dst) {
  for (int round = 0; round < kMaxRounds; ++round) {
    bool progress = false;
    if (h.in_pipe > 0) {
      ssize_t n = splice(h.pipe_r.get(), nullptr, dst, nullptr, h.in_pipe, kFlags);
      if (n > 0) {
        h.in_pipe -= static_cast<size_t>(n);
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        int err = errno;
        if (err == EPIPE) DiscardPendingSigpipe();
        return err;
      }
    }
    if (!h.src_eof) {
      // EAGAIN here means "no data" or "pipe full"; either way the write side
      // above decides what we wait for.
      ssize_t n = splice(src, nullptr, h.pipe_w.get(), nullptr, kSpliceLen, kFlags);
      if (n > 0) {
        h.in_pipe += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        h.src_eof = true;
        progress = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return errno;
      }
    }
    if (!progress) break;
  }
  if (h.src_eof && h.in_pipe == 0 && !h.dst_shut) {
    // Half-close: the peer of dst sees EOF but may still answer.
    if (shutdown(dst, SHUT_WR) != 0 && errno != ENOTCONN) return errno;
    h.dst_shut = true;
  }
  return 0;
}

}  // namespace moor::net::proxy
