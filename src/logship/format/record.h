// Log records as the shipper moves them: one line (or one joined multi-line
// event) of one container's stdout/stderr, with the labels of its source.
// docs/logs.md is the user's guide; docs/design/observability.md the design.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moor::logship {

enum class Stream : uint8_t { kStdout = 0, kStderr = 1 };
std::string_view StreamName(Stream s);  // "stdout" | "stderr"

// Who wrote a record. One per container and label set: when a container's
// labels change (a deploy pins a new release), it gets a new id.
struct SourceMeta {
  uint32_t id = 0;            // unique within one spool (the shipper allocates)
  std::string container_id;   // 64 hex
  std::string container;      // name ("shop-php-1")
  std::string app;            // moor.app ("" when none)
  std::string service;        // moor.app.service or moor.service ("" when none)
  std::string image;          // the image reference it was created from
  std::string release;        // moor.release ("" when the service has no code)
  std::string node;           // the daemon's node name (hostname by default)
  std::vector<std::string> outputs;  // moor.log.outputs: names it ships to; empty = every output
};

// One record. text is the line without its trailing newline (a joined event
// keeps the newlines between its lines), raw bytes as the app wrote them
// (may be invalid UTF-8; encoders repair). fields: with JSON parsing on and a
// line that is a JSON object, that object's text ("" otherwise).
struct Record {
  int64_t time_ns = 0;  // unix ns of the (first) line, as the monitor stamped it
  Stream stream = Stream::kStdout;
  uint32_t source = 0;  // SourceMeta::id
  std::string_view text;
  std::string_view fields;
};

// A record that owns its bytes (joiner output, tests).
struct OwnedRecord {
  int64_t time_ns = 0;
  Stream stream = Stream::kStdout;
  uint32_t source = 0;
  std::string text;
  std::string fields;
  Record view() const { return Record{time_ns, stream, source, text, fields}; }
};

}  // namespace moor::logship
