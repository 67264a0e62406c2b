// The disk-backed queue between the tailers and the outputs: one append-only
// log in segment files (ROOT/logship/spool/SEQ.seg), read by every output
// from its own cursor (ROOT/logship/spool/cursors/NAME). One writer thread,
// one reader thread per output.
//
// Segment format (little-endian): "MSPL" u32 version=1, then frames
//   u32 length-of-body, u32 crc32-of-body (gzip/zlib CRC-32), u8 kind, body
// kind 1 = source (SourceMeta, written before the first record of that source
// in each segment, so a segment is readable alone), kind 2 = record
// (i64 time_ns, u8 stream, u32 source, u32 text len, text, u32 fields len,
// fields). A torn or corrupt frame at the tail of the last segment (a crash
// mid-write) ends the log there.
//
// Durability: Checkpoint() fdatasyncs what was appended and records, in one
// atomically replaced file, the spool's end and an opaque blob from the
// writer (the tailers' file positions). Open() cuts the spool back to the
// last checkpoint's end and hands the blob back, so after a crash the tailers
// re-read exactly what the spool lost: no gap, no duplicate on that side.
//
// Budget: the segments' total size stays ≤ budget_bytes. When an append
// needs room, the oldest segment is deleted; every reader whose cursor was
// still in it moves to the next segment and its drop counter grows by the
// records it had not read there (what is dropped is exactly what is counted).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "logship/format/record.h"

namespace moor::logship {

struct SpoolPos {
  uint64_t segment = 0;  // sequence number of the segment file
  uint64_t offset = 0;   // byte offset of the next frame in it
  auto operator<=>(const SpoolPos&) const = default;
};

struct SpoolOptions {
  uint64_t budget_bytes = 1ull << 30;   // --log-disk-budget (1 GiB)
  uint64_t segment_bytes = 16ull << 20; // a segment is closed once it reaches this
};

struct SpoolStats {
  uint64_t bytes = 0;          // on disk, all segments
  uint64_t segments = 0;
  uint64_t records_appended = 0;
  uint64_t segments_dropped = 0;  // deleted for the budget while some reader still needed them
};

class SpoolReader;

class Spool {
 public:
  // Creates dir when missing. checkpoint_blob: what the last Checkpoint()
  // stored ("" on a fresh spool).
  static Result<std::unique_ptr<Spool>> Open(const std::string& dir, const SpoolOptions& opts,
                                             std::string* checkpoint_blob);
  ~Spool();

  // Writer side (one thread). Appends are buffered; Publish() makes them
  // visible to readers (and wakes them). A failed Append did not append the
  // record: errnum E2BIG means it can never fit the budget; any other failure
  // (an I/O error: ENOSPC, EMFILE, EIO) may pass on a retry of the same record.
  Result<void> Append(const SourceMeta& source, const Record& r);
  Result<void> Publish();
  // Publish + fdatasync + store blob with the end position, atomically.
  Result<void> Checkpoint(std::string_view blob);

  // A reader for the output `name` (cursors/NAME, created at the current
  // start when new). Readers of names no longer configured are removed with
  // RemoveReader so they stop holding segments.
  Result<std::unique_ptr<SpoolReader>> OpenReader(const std::string& name);
  Result<void> RemoveReader(const std::string& name);

  SpoolStats Stats() const;
  SpoolPos End() const;  // published end

  struct Impl;

 private:
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A record read back, with its source's labels and the position just after it.
struct SpooledRecord {
  Record record;               // views into the reader's buffer, valid until the next Read
  const SourceMeta* source = nullptr;  // valid until the next Read too
  SpoolPos next;               // Ack(next) once this record is delivered
};

class SpoolReader {
 public:
  virtual ~SpoolReader() = default;
  // Up to max_records / about max_bytes records from the read position;
  // waits up to timeout_ms for new ones when there are none (0 = don't wait).
  // An empty result is not an error. Reading advances the read position, not
  // the cursor.
  virtual Result<std::vector<SpooledRecord>> Read(size_t max_records, size_t max_bytes, int timeout_ms) = 0;
  // The receiver has everything before pos: the cursor moves there (in memory).
  virtual void Ack(SpoolPos pos) = 0;
  // Writes the cursor to disk (atomic replace). The shipper calls it every
  // second and at shutdown; a crash repeats at most what was acked since.
  virtual Result<void> Commit() = 0;
  // Read position back to the cursor (after a connection broke).
  virtual void Rewind() = 0;
  virtual SpoolPos Cursor() const = 0;
  virtual uint64_t Dropped() const = 0;      // records lost to the budget, total for this reader
  virtual uint64_t LagBytes() const = 0;     // published end − cursor, in bytes
  virtual int64_t OldestUnackedNs() const = 0;  // time_ns of the record at the cursor, 0 when none
  // Label sets the reader keeps: those of the segment it reads (each segment
  // declares again every source it uses, so older ones are forgotten).
  virtual size_t SourcesKnown() const { return 0; }
};

}  // namespace moor::logship
