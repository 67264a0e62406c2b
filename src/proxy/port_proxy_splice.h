// Internal to the port proxy: one direction of a relayed TCP connection,
// src socket → pipe → dst socket with splice(), so bytes never pass through
// userspace.
#pragma once

#include <cstddef>

#include "common/error.h"
#include "common/fd.h"

namespace moor::net::proxy {

struct SpliceHalf {
  UniqueFd pipe_r, pipe_w;
  size_t in_pipe = 0;     // bytes read from src, not yet written to dst
  bool src_eof = false;   // src sent FIN
  bool dst_shut = false;  // FIN passed on: shutdown(dst, SHUT_WR) done

  // Backpressure: read src only when the pipe is empty; wait for dst to be
  // writable only while the pipe holds data (a write to it returned EAGAIN).
  bool wants_read() const { return !src_eof && in_pipe == 0; }
  bool wants_write() const { return in_pipe > 0; }
  bool done() const { return dst_shut; }
};

Result<SpliceHalf> NewSpliceHalf();

// Moves what can be moved without blocking (bounded, so one busy connection
// cannot starve the others; level-triggered epoll brings us back) and passes
// on EOF as a half-close. Returns 0, or the errno that broke the connection.
int Pump(SpliceHalf& half, int src, int dst);

}  // namespace moor::net::proxy
