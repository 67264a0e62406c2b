// Container logs in Docker's json-file format, one JSON object per line:
//   {"log":"text\n","stream":"stdout","time":"2026-11-27T10:00:00.123456789Z"}
// Lines longer than 16 KiB are split (the pieces but the last lack "\n"), as
// Docker does. Rotation by size keeps PATH, PATH.1 … PATH.(max_files-1).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fd.h"

namespace moor::monitor {

class LogWriter {
 public:
  LogWriter(std::string path, int64_t max_size, int max_files);
  Result<void> Open();  // appends to an existing file
  // Splits data into lines per stream ("stdout"/"stderr"), buffering a
  // trailing partial line until the next write, a newline or Flush().
  Result<void> Write(std::string_view stream, std::string_view data);
  Result<void> Flush();  // writes out partial lines (container exit)

 private:
  // Adds one record to batch_, first writing out the batch and rotating when
  // the record would not fit in the file.
  Result<void> AddRecord(std::string_view stream, std::string_view text, bool newline);
  Result<void> WriteOut(size_t n);  // writes batch_[0, n) and drops it from batch_
  Result<void> Rotate();
  std::string path_;
  int64_t max_size_;
  int max_files_;
  UniqueFd fd_;
  int64_t size_ = 0;  // of the file once batch_ is written
  std::string partial_out_, partial_err_;
  std::string batch_;   // whole records of one Write()/Flush(): one write() for them all
  int64_t now_ns_ = 0;  // the time stamped on the records being added
  int64_t stamp_sec_ = -1;
  std::string stamp_;  // "2026-11-27T10:00:00." of second stamp_sec_ (formatted once a second)
};

struct LogEntry {
  std::string stream;  // "stdout" | "stderr"
  std::string time;    // RFC 3339 nano as stored
  int64_t time_ns = 0;
  std::string text;  // including the "\n" when the line had one
};

struct LogQuery {
  bool stdout = true, stderr = true;
  std::optional<int64_t> since_ns, until_ns;  // unix ns, inclusive / exclusive
  std::optional<int64_t> tail;                // last N entries (after since/until)
  bool follow = false;
};

// Reads the rotated files oldest first, then PATH; with follow, keeps
// reading PATH (also across rotations) until stop() returns true (checked
// at least every 100 ms). on_entry returning false stops early.
Result<void> ReadLogs(const std::string& path, int max_files, const LogQuery& q,
                      const std::function<bool(const LogEntry&)>& on_entry,
                      const std::function<bool()>& stop);

// "2026-11-27T10:00:00.123456789Z", "2026-11-27T10:00:00Z", unix seconds
// "1700000000" or "1700000000.5", or a duration before now ("10m", "1h30m")
// → unix ns. For --since/--until.
Result<int64_t> ParseLogTime(std::string_view s, int64_t now_ns);

// Unix ns → "2026-11-27T10:00:00.123456789Z" (always 9 digits, as Docker's logs).
std::string FormatRfc3339Nano(int64_t unix_ns);
int64_t NowUnixNs();
// RFC 3339 with optional fraction and zone (Z or ±HH:MM; none = UTC), or a
// bare date → unix ns; nullopt when s is not such a time.
std::optional<int64_t> ParseRfc3339(std::string_view s);
// The JSON string literal of text as Go's encoder writes it: invalid UTF-8
// becomes U+FFFD, so every record stays valid JSON.
std::string JsonQuoteUtf8(std::string_view text);

}  // namespace moor::monitor
