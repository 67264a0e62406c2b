// Byte-stream decoders the CLI needs on raw connections: Docker's stdout /
// stderr multiplexing (logs, attach and exec without a TTY) and HTTP chunked
// transfer encoding (a streamed response read off a raw connection, see
// cmd_run.cc's wait). Both take input in arbitrary pieces.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::cli {

// Frames: 8-byte header [stream, 0, 0, 0, size (big-endian u32)] + payload.
// stream 0 = stdin (echoed), 1 = stdout, 2 = stderr.
class StreamDemuxer {
 public:
  using Sink = std::function<void(int stream, std::string_view data)>;
  explicit StreamDemuxer(Sink sink) : sink_(std::move(sink)) {}
  // Delivers every complete (or partial) payload piece; errors on a header
  // that cannot be Docker framing (a stream id above 2).
  Result<void> Feed(std::string_view data);
  // True when no frame is half-read.
  bool AtBoundary() const { return header_len_ == 0 && remaining_ == 0; }

 private:
  Sink sink_;
  unsigned char header_[8] = {};
  size_t header_len_ = 0;
  uint32_t remaining_ = 0;
  int stream_ = 1;
};

// Builds one frame (tests, and anything that must produce framing).
std::string MuxFrame(int stream, std::string_view payload);

class ChunkedDecoder {
 public:
  // Appends decoded body bytes to *out.
  Result<void> Feed(std::string_view data, std::string* out);
  bool Done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  std::string line_;
  size_t remaining_ = 0;
};

// Splits a stream of concatenated JSON objects (newline-separated or not,
// as /events sends them) into whole objects' texts.
class JsonObjectSplitter {
 public:
  // Calls on_object for every complete top-level object; stops (returning
  // false) when on_object does.
  bool Feed(std::string_view data, const std::function<bool(const std::string&)>& on_object);

 private:
  std::string buf_;
  size_t scanned_ = 0;  // bytes of buf_ already scanned
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

}  // namespace moor::cli
