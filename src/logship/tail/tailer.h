// Follows one container's json-file log (monitor/log_file.h: PATH, rotated to
// PATH.1 … PATH.(max_files-1)) from a saved position, across rotations, and
// yields its lines. The monitor writes the file; the tailer never blocks it.
//
// Lines: the json-file record {"log":"…","stream":"…","time":"…"} decoded
// (fast path for the monitor's own layout, which ends in a fixed 60-byte
// suffix; any other valid record through a JSON parser); pieces of a line
// longer than 16 KiB (records whose text lacks "\n") are joined back, up to
// max_line_bytes (the rest is cut and counted). A record that is not valid
// JSON is skipped and counted, never fatal.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fd.h"
#include "logship/format/record.h"

namespace moor::logship {

// Where a tailer is: the file (by device and inode, so a rotation is
// recognised) and the byte offset of the next unread record in it.
struct TailPos {
  uint64_t dev = 0, ino = 0;
  uint64_t offset = 0;
  bool operator==(const TailPos&) const = default;
};

struct TailLine {
  int64_t time_ns = 0;
  Stream stream = Stream::kStdout;
  std::string_view text;  // without the trailing newline; valid during the callback
  TailPos next;           // the position after this line (checkpoint it once the line is safe)
};

struct TailStats {
  uint64_t lines = 0, bytes = 0;  // text bytes yielded
  uint64_t bad_records = 0;       // not json-file records: skipped
  uint64_t truncated_lines = 0;   // longer than max_line_bytes: cut
  uint64_t missed_files = 0;      // rotated away before they were read (the tailer was too far behind)
  uint64_t lost_lines = 0;        // records of held files given up (too far behind a fast writer)
};

class LogTailer {
 public:
  // path: the live log file; start: a saved position (dev/ino 0 = the start
  // of the oldest file present; a position whose file is gone = the oldest
  // file present, counted in missed_files).
  // max_held_bytes: how much of newer, not yet read files the tailer may keep
  // open (their space stays in use once the writer deletes them); it always
  // holds up to 2 × max_files + 2 files.
  LogTailer(std::string path, int max_files, TailPos start, size_t max_line_bytes = 1 << 20,
            uint64_t max_held_bytes = 1ull << 30);

  // Reads what is there now (at most about max_bytes of the files), calling
  // on_line for each complete line in order; follows rotations. Returns the
  // number of lines. A missing file is not an error (container not started
  // yet, or removed): 0 lines.
  Result<size_t> Poll(const std::function<void(const TailLine&)>& on_line, size_t max_bytes = 4 << 20);

  // Opens the log (from the start position) and holds the newer rotated
  // files, reading nothing: once open they stay readable after deletion.
  Result<void> Hold();

  // Yields a line whose last piece never came (the writer's final flush at
  // container exit writes a partial line without "\n"). The shipper calls it
  // when the file has been quiet for a while. Returns 1 when it yielded.
  size_t FlushPartial(const std::function<void(const TailLine&)>& on_line);
  bool partial_pending() const { return partial_active_; }

  // Position after the last line yielded (for checkpoints).
  TailPos pos() const { return pos_; }
  const TailStats& stats() const { return stats_; }

 private:
  std::string path_;
  int max_files_;
  TailPos pos_;
  size_t max_line_bytes_;
  TailStats stats_;
  UniqueFd fd_;
  std::string buf_, partial_;
  int64_t partial_time_ns_ = 0;
  Stream partial_stream_ = Stream::kStdout;
  bool opened_ = false;

  // Implementation (tailer.cc).
  struct FileId {
    uint64_t dev = 0, ino = 0;
    bool operator==(const FileId&) const = default;
  };
  using OnLine = std::function<void(const TailLine&)>;
  Result<void> OpenStart();
  Result<bool> OpenFile(const std::string& path, const FileId* want);
  Result<bool> OpenById(FileId id);
  Result<bool> OpenOldest();
  Result<std::optional<FileId>> Successor();
  Result<void> SwitchTo(FileId next);
  // Opens the files newer than the newest one held (the writer may rotate
  // them away before the tailer gets there: an open file stays readable).
  Result<void> HoldNewer();
  std::deque<std::pair<FileId, UniqueFd>> held_;  // newer than cur_, oldest first
  uint64_t max_held_bytes_;
  struct Finished {
    uint64_t dev = 0, ino = 0;
    int64_t btime_ns = 0;
  };
  std::deque<Finished> finished_;  // files read to their end, most recent last
  bool IsFinishedFile(uint64_t dev, uint64_t ino, int64_t btime_ns) const;
  // After cur_ was opened by name: held files up to it are not newer.
  void DropHeldUpToCur();
  void Consume(const OnLine& on_line, size_t* lines);
  void Record(std::string_view rec, uint64_t start, uint64_t end, const OnLine& on_line, size_t* lines);
  void Emit(std::string_view text, int64_t time_ns, Stream stream, TailPos next, bool cut, const OnLine& on_line,
            size_t* lines);
  void EmitPartial(TailPos next, const OnLine& on_line, size_t* lines);
  uint64_t partial_end_ = 0;     // offset after the pending line's last piece
  FileId cur_;                   // the open file
  uint64_t off_ = 0;             // its offset of buf_[0]
  size_t len_ = 0;               // bytes in buf_ (the end may be an unfinished record)
  bool skipping_ = false;        // dropping the rest of an oversized record
  bool partial_active_ = false;  // partial_ holds pieces of a line (it starts at pos_)
  bool partial_cut_ = false;
  FileId succ_;       // the file rotated in after the open one, once seen
  std::string text_;  // one record's decoded text (reused: no allocation per line)
};

// Decodes one json-file record (without its newline). Fast path for the
// monitor's layout; returns false when the record is not a json-file record.
// text gets the "log" value decoded (including a trailing "\n" when present).
bool DecodeJsonFileRecord(std::string_view line, std::string* text, Stream* stream, int64_t* time_ns);

}  // namespace moor::logship
