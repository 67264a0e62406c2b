// Per-source line processing before the spool: multi-line joining (a stack
// trace becomes one event) and optional JSON parsing of app lines.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "logship/format/record.h"

namespace moor::logship {

struct MultilineOptions {
  // POSIX extended regex: a line matching it starts a new event; other lines
  // continue the event before them. "" = no joining (every line is an event).
  std::string start_pattern;
  size_t max_bytes = 64 << 10;     // an event is flushed once this long
  size_t max_lines = 500;          // … or this many lines
  int64_t flush_after_ns = 1'000'000'000;  // … or when no line came for this long
};

// Whether a start pattern may be used: it compiles, and nothing in it could
// make matching slow for every container (back-references, counts past 255,
// over 512 bytes). One line naming the pattern when not. moor.yaml's parser
// uses it too, so `moor up` refuses what the daemon would.
Result<void> CheckStartPattern(const std::string& pattern);

// Joins lines of one stream of one source. Lines of stdout and stderr are
// joined separately (use one joiner per stream).
class LineJoiner {
 public:
  // Fails (one line naming the pattern and regcomp's message) on a bad pattern.
  static Result<std::unique_ptr<LineJoiner>> Make(const MultilineOptions& opts);
  ~LineJoiner();

  using Emit = std::function<void(const OwnedRecord&)>;
  // Adds one line (no trailing newline). Emits every event it completes.
  void Add(int64_t time_ns, Stream stream, uint32_t source, std::string_view line, const Emit& emit);
  // Emits the pending event when it is older than flush_after_ns at now_ns
  // (or always with force, at container exit / shutdown).
  void Flush(int64_t now_ns, bool force, const Emit& emit);
  bool pending() const;

  struct Impl;

 private:
  explicit LineJoiner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// With moor.log.json=true: when text (trimmed) is a JSON object, its compact
// serialisation (what Record::fields carries); nullopt otherwise. Objects
// nested deeper than 32 or larger than 64 KiB are not parsed.
std::optional<std::string> ParseAppJson(std::string_view text);

}  // namespace moor::logship
