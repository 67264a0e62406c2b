// HTTP/1.1 framing shared by the server and the client (module-internal):
// buffered reads with a timeout, message heads, chunked and sized bodies.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "api/http.h"

namespace moor::api::wire {

// How a read of a message part ended.
enum class ReadStatus {
  kOk,
  kEof,        // peer closed (or the connection was shut down) before the part was complete
  kTimeout,    // nothing arrived for the reader's timeout
  kIoError,    // recv failed (errno kept)
  kTooLarge,   // the part exceeded its limit
  kMalformed,  // bytes that are not HTTP/1.1 framing
  kStopped,    // the sink asked to stop
};

// Sends everything; MSG_NOSIGNAL so a gone peer is an error, not SIGPIPE.
bool SendAll(int fd, std::string_view data);

// Reads from fd into a buffer that keeps bytes read past the current part
// (the next pipelined request, or the first bytes of a hijacked stream).
class Reader {
 public:
  // timeout_ms < 0: wait forever.
  Reader(int fd, int timeout_ms) : fd_(fd), timeout_ms_(timeout_ms) {}
  std::string& buffer() { return buf_; }
  // Appends what is available (waiting up to the timeout). >0: bytes read.
  ReadStatus Fill(size_t* got = nullptr);
  // Total bytes received so far (to tell "nothing arrived" from a cut message).
  size_t received() const { return received_; }

 private:
  int fd_;
  int timeout_ms_;
  std::string buf_;
  size_t received_ = 0;
};

// Reads up to and including the empty line ending a message head; *head gets
// the lines before it. Empty lines before the head are skipped (RFC 9112 2.2).
ReadStatus ReadHead(Reader& r, size_t limit, std::string* head);

// Splits a head into its first line and lower-cased header fields. Repeated
// fields are joined with ", ". False on malformed fields (no colon, space
// before the colon, obsolete line folding, bad name characters).
bool ParseHead(std::string_view head, std::string* first_line, Headers* headers);

// True when a comma-separated header value holds token (case-insensitive).
bool HasToken(const Headers& h, const std::string& name, std::string_view token);

using Sink = std::function<bool(std::string_view)>;
// Exactly n bytes of body, handed to sink piece by piece.
ReadStatus ReadSized(Reader& r, uint64_t n, const Sink& sink);
// A chunked body (framing removed) including its trailer; limit caps the
// decoded size (0: unlimited).
ReadStatus ReadChunked(Reader& r, uint64_t limit, const Sink& sink);
// Everything until the peer closes.
ReadStatus ReadUntilClose(Reader& r, const Sink& sink);

// "1a\r\n<data>\r\n" for one chunk.
std::string ChunkFrame(std::string_view data);

}  // namespace moor::api::wire
