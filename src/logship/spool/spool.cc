// The spool: segment files, the writer's buffer, readers' cursors (format and
// semantics: spool.h).
//
// Locking: Impl::mu guards the segment list, the published end and every
// reader's positions; cv wakes readers on Publish. The writer encodes into its
// own buffer without the lock and takes it only to publish, to roll a segment
// and to delete one. A reader takes it to learn where to read and to store how
// far it got; its file I/O happens outside it. The one exception is counting
// the records a budget deletion takes from a reader: that happens under the
// lock, so the count is exact against the reader's position (the reader's own
// progress made meanwhile is discarded through ReaderState::gen).
//
// Choices the header leaves open:
// - Budget: a segment may pass segment_bytes by its last frame; the total
//   never passes budget_bytes. segment_bytes shrinks to budget/2 so the
//   segment being written (never deleted) leaves room for another. A single
//   record larger than the budget is refused.
// - Dropped counts records a reader had not *read* (from its read position):
//   a record read but not yet acked when its segment goes is not counted.
// - Segments every reader's committed cursor has passed are deleted (Commit,
//   RemoveReader, a roll). With no reader at all, only the budget deletes.
// - A budget deletion rewrites the cursor files of the readers it moved
//   before unlinking, so drop counts and cursors survive a restart (without
//   fsync: after a power loss a cursor may still point into a deleted
//   segment; it then starts at the oldest one with the older drop count).
// - No checkpoint file: Open() cuts the spool to nothing (the blob is "").
// - A corrupt frame inside an older segment (only possible after outside
//   damage) makes readers skip the rest of that segment, uncounted.
#include "logship/spool/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/fd.h"
#include "common/file.h"
#include "common/log.h"

namespace moor::logship {
namespace {

constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 8;  // "MSPL" u32 version
constexpr size_t kFrameHeader = 9;    // u32 len, u32 crc, u8 kind
constexpr uint8_t kKindSource = 1;
constexpr uint8_t kKindRecord = 2;
constexpr size_t kRecordFixed = 21;         // i64 time, u8 stream, u32 source, u32 len, u32 len
constexpr uint32_t kMaxFrameBody = 64u << 20;  // a larger length can only be damage
constexpr size_t kFlushBytes = 256 << 10;   // write() in chunks at least this big
constexpr size_t kWriteBuffer = 512 << 10;
constexpr size_t kReadChunk = 1 << 20;
constexpr uint64_t kMinBudget = 64 << 10;

template <class T>
inline void Put(char* p, T v) {
  if constexpr (std::endian::native == std::endian::big) v = std::byteswap(v);
  std::memcpy(p, &v, sizeof v);
}
template <class T>
inline T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = std::byteswap(v);
  return v;
}

inline uint32_t Crc(const char* p, size_t n) {
  // zlib's CRC-32 (gzip's, reflected), computed by ISA-L: several times
  // faster than zlib's, and the spool checks every frame twice (write, read).
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(p), static_cast<uint64_t>(n));
}

std::string SegName(uint64_t seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llu.seg", static_cast<unsigned long long>(seq));
  return name;
}

// ---- frames -----------------------------------------------------------------

size_t SourceBodySize(const SourceMeta& m) {
  size_t n = 4 + 7 * 4 + m.container_id.size() + m.container.size() + m.app.size() + m.service.size() +
             m.image.size() + m.release.size() + m.node.size() + 4;
  for (const auto& o : m.outputs) n += 4 + o.size();
  return n;
}

char* PutStr(char* p, std::string_view s) {
  Put<uint32_t>(p, static_cast<uint32_t>(s.size()));
  if (!s.empty()) std::memcpy(p + 4, s.data(), s.size());
  return p + 4 + s.size();
}

// Writes one frame (header + body) at p; body_fn fills the body.
template <class Fn>
char* PutFrame(char* p, uint8_t kind, size_t body_len, Fn&& body_fn) {
  char* body = p + kFrameHeader;
  body_fn(body);
  Put<uint32_t>(p, static_cast<uint32_t>(body_len));
  Put<uint32_t>(p + 4, Crc(body, body_len));
  p[8] = static_cast<char>(kind);
  return body + body_len;
}

void EncodeSource(const SourceMeta& m, char* p) {
  Put<uint32_t>(p, m.id);
  p += 4;
  for (const std::string* s : {&m.container_id, &m.container, &m.app, &m.service, &m.image, &m.release, &m.node})
    p = PutStr(p, *s);
  Put<uint32_t>(p, static_cast<uint32_t>(m.outputs.size()));
  p += 4;
  for (const auto& o : m.outputs) p = PutStr(p, o);
}

bool GetStr(const char*& p, const char* end, std::string* out) {
  if (end - p < 4) return false;
  uint32_t n = Get<uint32_t>(p);
  p += 4;
  if (static_cast<size_t>(end - p) < n) return false;
  out->assign(p, n);
  p += n;
  return true;
}

bool DecodeSource(const char* p, size_t n, SourceMeta* m) {
  const char* end = p + n;
  if (n < 4) return false;
  m->id = Get<uint32_t>(p);
  p += 4;
  for (std::string* s : {&m->container_id, &m->container, &m->app, &m->service, &m->image, &m->release, &m->node})
    if (!GetStr(p, end, s)) return false;
  if (end - p < 4) return false;
  uint32_t count = Get<uint32_t>(p);
  p += 4;
  if (count > n) return false;
  m->outputs.resize(count);
  for (auto& o : m->outputs)
    if (!GetStr(p, end, &o)) return false;
  return p == end;
}

bool DecodeRecord(const char* p, size_t n, Record* r) {
  if (n < kRecordFixed) return false;
  uint8_t stream = static_cast<uint8_t>(p[8]);
  if (stream > 1) return false;
  uint32_t text_len = Get<uint32_t>(p + 13);
  if (text_len > n - kRecordFixed) return false;
  uint32_t fields_len = Get<uint32_t>(p + 17 + text_len);
  if (fields_len != n - kRecordFixed - text_len) return false;
  r->time_ns = Get<int64_t>(p);
  r->stream = static_cast<Stream>(stream);
  r->source = Get<uint32_t>(p + 9);
  r->text = std::string_view(p + 17, text_len);
  r->fields = std::string_view(p + 21 + text_len, fields_len);
  return true;
}

enum class Parse { kOk, kNeedMore, kCorrupt };
struct Frame {
  uint8_t kind = 0;
  const char* body = nullptr;
  uint32_t len = 0;
  size_t size() const { return kFrameHeader + len; }
};

// One frame from `avail` bytes at p.
Parse ParseFrame(const char* p, size_t avail, Frame* f) {
  if (avail < kFrameHeader) return Parse::kNeedMore;
  uint32_t len = Get<uint32_t>(p);
  uint8_t kind = static_cast<uint8_t>(p[8]);
  if (len > kMaxFrameBody || (kind != kKindSource && kind != kKindRecord)) return Parse::kCorrupt;
  if (avail - kFrameHeader < len) return Parse::kNeedMore;
  if (Crc(p + kFrameHeader, len) != Get<uint32_t>(p + 4)) return Parse::kCorrupt;
  f->kind = kind;
  f->body = p + kFrameHeader;
  f->len = len;
  return Parse::kOk;
}

// Bytes a frame starting at p needs in all (header alone when not known yet).
size_t FrameWant(const char* p, size_t avail) {
  return avail < kFrameHeader ? kFrameHeader : kFrameHeader + Get<uint32_t>(p);
}

// Reads up to n bytes at off; fewer only at end of file.
Result<size_t> PreadFull(int fd, char* p, size_t n, uint64_t off, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read " + path);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

// Walks the good frames of a segment in [from, to), calling fn(offset, frame)
// (false stops). Returns where it stopped: `to`, the frame fn refused, or the
// first torn or corrupt frame. For the rare paths (Open, drop counts).
template <class Fn>
Result<uint64_t> ScanFrames(int fd, const std::string& path, uint64_t from, uint64_t to, Fn&& fn) {
  std::vector<char> buf(kReadChunk);
  uint64_t off = from;
  size_t start = 0, have = 0;  // buf[start, have) holds the file from `off`
  while (off < to) {
    Frame f;
    Parse r = ParseFrame(buf.data() + start, have - start, &f);
    if (r == Parse::kCorrupt) return off;
    if (r == Parse::kOk) {
      if (!fn(off, f)) return off;
      off += f.size();
      start += f.size();
      continue;
    }
    size_t want = FrameWant(buf.data() + start, have - start);
    if (off + want > to) return off;  // torn: runs past the end
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
    start = 0;
    if (buf.size() < want) buf.resize(want);
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size() - have, to - (off + have)));
    size_t got = TRY(PreadFull(fd, buf.data() + have, n, off + have, path));
    if (got == 0) return off;
    have += got;
  }
  return off;
}

// ---- checkpoint and cursor files ---------------------------------------------

std::string EncodeCheckpoint(SpoolPos end, std::string_view blob) {
  std::string c(4 + 4 + 8 + 8 + 4, '\0');
  std::memcpy(c.data(), "MSCK", 4);
  Put<uint32_t>(c.data() + 4, kVersion);
  Put<uint64_t>(c.data() + 8, end.segment);
  Put<uint64_t>(c.data() + 16, end.offset);
  Put<uint32_t>(c.data() + 24, static_cast<uint32_t>(blob.size()));
  c.append(blob);
  char crc[4];
  Put<uint32_t>(crc, Crc(c.data(), c.size()));
  c.append(crc, 4);
  return c;
}

bool DecodeCheckpoint(const std::string& c, SpoolPos* end, std::string* blob) {
  if (c.size() < 32 || c.compare(0, 4, "MSCK") != 0 || Get<uint32_t>(c.data() + 4) != kVersion) return false;
  uint32_t len = Get<uint32_t>(c.data() + 24);
  if (c.size() != 28 + size_t{len} + 4) return false;
  if (Crc(c.data(), c.size() - 4) != Get<uint32_t>(c.data() + c.size() - 4)) return false;
  end->segment = Get<uint64_t>(c.data() + 8);
  end->offset = Get<uint64_t>(c.data() + 16);
  blob->assign(c, 28, len);
  return true;
}

// cursors/NAME: "v1 SEGMENT OFFSET DROPPED\n".
std::string EncodeCursor(SpoolPos p, uint64_t dropped) {
  return "v1 " + std::to_string(p.segment) + " " + std::to_string(p.offset) + " " + std::to_string(dropped) + "\n";
}

bool DecodeCursor(std::string_view s, SpoolPos* p, uint64_t* dropped) {
  if (!s.starts_with("v1 ")) return false;
  const char* c = s.data() + 3;
  const char* end = s.data() + s.size();
  uint64_t* outs[] = {&p->segment, &p->offset, dropped};
  for (uint64_t* o : outs) {
    while (c < end && *c == ' ') ++c;
    auto [next, ec] = std::from_chars(c, end, *o);
    if (ec != std::errc()) return false;
    c = next;
  }
  return c < end && *c == '\n';
}

bool ValidReaderName(const std::string& n) {
  if (n.empty() || n.size() > 200 || n[0] == '.' || n.ends_with(".tmp")) return false;
  return std::all_of(n.begin(), n.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_' || ch == '.';
  });
}

struct SegInfo {
  uint64_t seq = 0;
  uint64_t size = 0;      // final size once closed
  int64_t records = -1;   // records in it once closed; -1 = not counted (from an earlier run)
  bool closed = false;
};

struct ReaderState {
  explicit ReaderState(std::string n) : name(std::move(n)) {}
  const std::string name;
  // Under Impl::mu:
  SpoolPos cursor, read, disk_cursor;
  uint64_t dropped = 0;
  uint64_t gen = 0;  // bumped when the writer moves `read`: a Read in flight must redo
  bool attached = false;
  bool removed = false;
  std::mutex file_mu;  // orders writes of cursors/NAME (reader's Commit vs the writer's drops)
};

}  // namespace

struct Spool::Impl {
  std::string dir;
  std::string cursor_dir;
  SpoolOptions opts;

  mutable std::mutex mu;
  std::condition_variable cv;
  // Under mu:
  std::deque<SegInfo> segs;  // oldest first, consecutive seqs; back() is being written
  uint64_t closed_bytes = 0;
  SpoolPos end;  // published
  uint64_t segments_dropped = 0;
  std::map<std::string, std::shared_ptr<ReaderState>> readers;

  // Writer thread only:
  UniqueFd fd;
  uint64_t cur_seq = 0;
  uint64_t cur_flushed = 0;  // bytes of the current segment in the file
  uint64_t cur_bytes = 0;    // ... plus those in buf
  int64_t cur_records = 0;
  std::unordered_set<uint32_t> cur_sources;  // ids with a source frame in this segment
  uint32_t last_source = 0;
  bool have_last_source = false;
  uint64_t closed_seen = 0;  // closed_bytes as last seen (never below the true value)
  std::unique_ptr<char[]> buf;
  size_t buf_len = 0;
  size_t buf_cap = 0;
  std::vector<UniqueFd> unsynced;  // closed segments not yet fdatasynced
  uint64_t appended_local = 0;

  std::atomic<uint64_t> cur_size{0};  // cur_bytes, for Stats()
  std::atomic<uint64_t> appended{0};

  std::string SegPath(uint64_t seq) const { return dir + "/" + SegName(seq); }
  std::string CursorPath(const std::string& name) const { return cursor_dir + "/" + name; }

  // Under mu.
  const SegInfo* Find(uint64_t seq) const {
    if (segs.empty() || seq < segs.front().seq || seq > segs.back().seq) return nullptr;
    return &segs[seq - segs.front().seq];
  }
  SpoolPos Start() const { return {segs.front().seq, kHeaderBytes}; }
  // A position at the end of a closed segment is the start of the next.
  SpoolPos Normalize(SpoolPos p) const {
    const SegInfo* s = Find(p.segment);
    if (s && s->closed && p.offset >= s->size) return {p.segment + 1, kHeaderBytes};
    if (!segs.empty() && p < Start()) return Start();
    return p;
  }

  Result<void> Flush();
  Result<void> CreateSegment(uint64_t seq);
  Result<UniqueFd> OpenSegmentFile(uint64_t seq) const;
  void StartSegment(uint64_t seq, UniqueFd f);
  Result<void> Roll();
  Result<void> MakeRoom(uint64_t need);
  Result<void> DropOldest();
  Result<int64_t> CountRecords(const SegInfo& s, uint64_t from) const;
  // durable: fsync file and directory (Commit). The budget's rewrites skip
  // that: a writer stalled on fsyncs per output per segment could not keep up.
  Result<void> WriteCursor(ReaderState& st, bool durable = true);
  void CollectGarbage();
  Result<void> Load(std::string* blob);
  void LoadCursors();
};

// ---- writer ------------------------------------------------------------------

Result<void> Spool::Impl::Flush() {
  size_t done = 0;
  while (done < buf_len) {
    ssize_t n = ::write(fd.get(), buf.get() + done, buf_len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Error::FromErrno("write " + SegPath(cur_seq));
      // Keep the file at a frame boundary; the buffer stays for a retry.
      if (::ftruncate(fd.get(), static_cast<off_t>(cur_flushed)) == 0)
        (void)::lseek(fd.get(), static_cast<off_t>(cur_flushed), SEEK_SET);
      return Fail(std::move(e));
    }
    done += static_cast<size_t>(n);
  }
  cur_flushed += buf_len;
  buf_len = 0;
  return {};
}

Result<UniqueFd> Spool::Impl::OpenSegmentFile(uint64_t seq) const {
  std::string path = SegPath(seq);
  UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!f) return FailErrno("create " + path);
  return f;
}

Result<void> Spool::Impl::CreateSegment(uint64_t seq) {
  StartSegment(seq, TRY(OpenSegmentFile(seq)));
  return {};
}

void Spool::Impl::StartSegment(uint64_t seq, UniqueFd f) {
  fd = std::move(f);
  cur_seq = seq;
  cur_flushed = 0;
  std::memcpy(buf.get(), "MSPL", 4);
  Put<uint32_t>(buf.get() + 4, kVersion);
  buf_len = kHeaderBytes;
  cur_bytes = kHeaderBytes;
  cur_size.store(cur_bytes, std::memory_order_relaxed);
  cur_records = 0;
  cur_sources.clear();
  have_last_source = false;
}

Result<void> Spool::Impl::Roll() {
  TRY(Flush());
  // The next file first: until it exists nothing changes, so no reader ever
  // sees the current segment closed when it is not (a reader at its end
  // would move on to a segment that never comes and skip what follows).
  UniqueFd next = TRY(OpenSegmentFile(cur_seq + 1));
  {
    std::lock_guard lk(mu);
    SegInfo& s = segs.back();
    s.closed = true;
    s.size = cur_bytes;
    s.records = cur_records;
    closed_bytes += cur_bytes;
    segs.push_back({cur_seq + 1, 0, -1, false});
    closed_seen = closed_bytes;
  }
  unsynced.push_back(std::move(fd));
  StartSegment(cur_seq + 1, std::move(next));
  CollectGarbage();
  return {};
}

static Error RecordTooBig(uint64_t need, uint64_t budget) {
  return Error(E2BIG, "log record of " + std::to_string(need) + " bytes does not fit the spool budget of " +
                          std::to_string(budget) + " bytes: raise --log-disk-budget");
}

Result<void> Spool::Impl::MakeRoom(uint64_t need) {
  while (closed_seen + cur_bytes + need > opts.budget_bytes) {
    {
      std::lock_guard lk(mu);
      closed_seen = closed_bytes;
      if (closed_seen + cur_bytes + need <= opts.budget_bytes) break;
      if (segs.size() < 2)
        return Fail(RecordTooBig(need, opts.budget_bytes));
    }
    TRY(DropOldest());
  }
  return {};
}

Result<int64_t> Spool::Impl::CountRecords(const SegInfo& s, uint64_t from) const {
  if (from >= s.size) return 0;
  if (from <= kHeaderBytes && s.records >= 0) return s.records;
  std::string path = SegPath(s.seq);
  UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return FailErrno("open " + path);
  int64_t n = 0;
  TRY(ScanFrames(f.get(), path, std::max(from, kHeaderBytes), s.size, [&](uint64_t, const Frame& fr) {
    if (fr.kind == kKindRecord) ++n;
    return true;
  }));
  return n;
}

// Deletes the oldest (closed) segment for the budget. Readers still in it move
// to the next one; their drop counters grow by the records they had not read.
Result<void> Spool::Impl::DropOldest() {
  std::vector<std::shared_ptr<ReaderState>> moved;
  SegInfo s;
  {
    std::lock_guard lk(mu);
    // A reader's commit may have collected the last closed segment since
    // MakeRoom looked: never drop the one being written.
    if (segs.size() < 2) return {};
    s = segs.front();
    // Count first: a failure to read the segment changes nothing.
    std::map<std::string, int64_t> lost_by;
    for (auto& [name, st] : readers) {
      // A position left at the end of a segment already collected would
      // otherwise look older than `s` and escape the count.
      st->read = Normalize(st->read);
      st->cursor = Normalize(st->cursor);
      if (st->read.segment == s.seq) lost_by[name] = TRY(CountRecords(s, st->read.offset));
    }
    bool needed = false;
    for (auto& [name, st] : readers) {
      bool changed = false;
      if (st->read.segment == s.seq) {
        int64_t lost = lost_by[name];
        st->dropped += static_cast<uint64_t>(lost);
        needed |= lost > 0;
        st->read = {s.seq + 1, kHeaderBytes};
        ++st->gen;
        changed = true;
      }
      if (st->cursor.segment == s.seq) {
        needed |= st->cursor.offset < s.size;
        st->cursor = {s.seq + 1, kHeaderBytes};
        changed = true;
      }
      if (st->read < st->cursor) st->read = st->cursor;
      if (changed || st->disk_cursor.segment <= s.seq) moved.push_back(st);
    }
    if (needed) ++segments_dropped;
    segs.pop_front();
    closed_bytes -= s.size;
    closed_seen = closed_bytes;
  }
  // Cursors first: after a crash between the two, a cursor never points into
  // a deleted segment, and its drop count is already on disk.
  for (auto& st : moved) {
    auto r = WriteCursor(*st, /*durable=*/false);
    if (!r) log::Warn("log spool: " + r.error().message());
  }
  std::string path = SegPath(s.seq);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return FailErrno("delete " + path);
  return {};
}

Result<void> Spool::Impl::WriteCursor(ReaderState& st, bool durable) {
  std::lock_guard flk(st.file_mu);
  SpoolPos pos;
  std::string content;
  {
    std::lock_guard lk(mu);
    if (st.removed) return {};
    pos = st.cursor;
    content = EncodeCursor(pos, st.dropped);
  }
  TRY(durable ? WriteFileDurable(CursorPath(st.name), content) : WriteFileAtomic(CursorPath(st.name), content));
  std::lock_guard lk(mu);
  st.disk_cursor = pos;
  return {};
}

// Deletes the closed segments that every reader's committed cursor has passed.
void Spool::Impl::CollectGarbage() {
  std::vector<uint64_t> gone;
  {
    std::lock_guard lk(mu);
    if (readers.empty()) return;
    uint64_t min_seg = UINT64_MAX;
    for (auto& [name, st] : readers) min_seg = std::min(min_seg, Normalize(st->disk_cursor).segment);
    while (segs.size() > 1 && segs.front().closed && segs.front().seq < min_seg) {
      gone.push_back(segs.front().seq);
      closed_bytes -= segs.front().size;
      segs.pop_front();
    }
  }
  for (uint64_t seq : gone) {
    std::string path = SegPath(seq);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) log::Warn("log spool: delete " + path + ": " + strerror(errno));
  }
}

// ---- open ----------------------------------------------------------------------

Result<void> Spool::Impl::Load(std::string* blob) {
  SpoolPos ckpt;
  bool have_ckpt = false;
  std::string ckpt_path = dir + "/checkpoint";
  auto raw = ReadFile(ckpt_path);
  if (raw) {
    have_ckpt = DecodeCheckpoint(*raw, &ckpt, blob);
    if (!have_ckpt) log::Warn("log spool: " + ckpt_path + " is damaged: starting the spool empty");
  } else if (raw.error().errnum() != ENOENT) {
    return Fail(std::move(raw.error()));
  }

  std::vector<uint64_t> seqs;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return FailErrno("open " + dir);
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n.size() == 20 && n.ends_with(".seg")) {
      uint64_t seq = 0;
      auto [p, ec] = std::from_chars(n.data(), n.data() + 16, seq);
      if (ec == std::errc() && p == n.data() + 16) seqs.push_back(seq);
    } else if (n.ends_with(".tmp")) {
      (void)::unlink((dir + "/" + std::string(n)).c_str());
    }
  }
  ::closedir(d);
  std::sort(seqs.begin(), seqs.end());

  // Cut back to the checkpoint: later segments go, the checkpoint's own one
  // is truncated to its end.
  while (!seqs.empty() && (!have_ckpt || seqs.back() > ckpt.segment)) {
    std::string path = SegPath(seqs.back());
    if (::unlink(path.c_str()) != 0) return FailErrno("delete " + path);
    seqs.pop_back();
  }
  // Keep only a consecutive run ending at the newest (a gap is outside damage).
  for (size_t i = seqs.size(); i-- > 1;) {
    if (seqs[i - 1] + 1 != seqs[i]) {
      for (size_t j = 0; j < i; ++j) (void)::unlink(SegPath(seqs[j]).c_str());
      seqs.erase(seqs.begin(), seqs.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
  }

  for (size_t i = 0; i < seqs.size(); ++i) {
    uint64_t seq = seqs[i];
    std::string path = SegPath(seq);
    bool last = i + 1 == seqs.size() && seq == ckpt.segment;
    UniqueFd f(::open(path.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC));
    if (!f) return FailErrno("open " + path);
    struct stat stt;
    if (::fstat(f.get(), &stt) != 0) return FailErrno("stat " + path);
    uint64_t size = static_cast<uint64_t>(stt.st_size);
    char head[kHeaderBytes];
    size_t got = TRY(PreadFull(f.get(), head, kHeaderBytes, 0, path));
    bool head_ok = got == kHeaderBytes && std::memcmp(head, "MSPL", 4) == 0 && Get<uint32_t>(head + 4) == kVersion;
    if (!last) {
      if (!head_ok) {
        // Damaged from outside: the segments up to it are unusable as a run.
        log::Warn("log spool: " + path + " has no valid header: deleting it and the older segments");
        for (size_t j = 0; j <= i; ++j) (void)::unlink(SegPath(seqs[j]).c_str());
        segs.clear();
        closed_bytes = 0;
        continue;
      }
      segs.push_back({seq, size, -1, true});
      closed_bytes += size;
      continue;
    }
    // The checkpoint's segment: it becomes the one written again. Check every
    // frame so a torn or corrupt tail ends the log, and learn its sources.
    uint64_t limit = std::min(size, ckpt.offset);
    uint64_t valid = kHeaderBytes;
    int64_t records = 0;
    if (head_ok) {
      valid = TRY(ScanFrames(f.get(), path, kHeaderBytes, limit, [&](uint64_t, const Frame& fr) {
        if (fr.kind == kKindRecord) ++records;
        if (fr.kind == kKindSource && fr.len >= 4) cur_sources.insert(Get<uint32_t>(fr.body));
        return true;
      }));
      if (valid < limit)
        log::Warn("log spool: " + path + ": torn or corrupt frame at offset " + std::to_string(valid) +
                  ": the log ends there");
    }
    if (!head_ok) {
      cur_sources.clear();
      f.Reset();
      break;  // recreated below
    }
    if (valid < size && ::ftruncate(f.get(), static_cast<off_t>(valid)) != 0) return FailErrno("truncate " + path);
    if (::lseek(f.get(), static_cast<off_t>(valid), SEEK_SET) < 0) return FailErrno("seek " + path);
    fd = std::move(f);
    cur_seq = seq;
    cur_flushed = cur_bytes = valid;
    cur_records = records;
    segs.push_back({seq, 0, -1, false});
  }
  if (!fd) {
    // Nothing to continue: a fresh segment after the ones kept.
    uint64_t seq = std::max<uint64_t>({1, have_ckpt ? ckpt.segment : 1, segs.empty() ? 1 : segs.back().seq + 1});
    if (!segs.empty() && seq != segs.back().seq + 1) {
      for (const SegInfo& s : segs) (void)::unlink(SegPath(s.seq).c_str());
      segs.clear();
      closed_bytes = 0;
    }
    TRY(CreateSegment(seq));
    TRY(Flush());  // the header, so the file is a valid segment from the start
    segs.push_back({seq, 0, -1, false});
  }
  cur_size.store(cur_bytes, std::memory_order_relaxed);
  closed_seen = closed_bytes;
  end = {cur_seq, cur_flushed};
  if (!have_ckpt) blob->clear();
  return {};
}

void Spool::Impl::LoadCursors() {
  DIR* d = ::opendir(cursor_dir.c_str());
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name(e->d_name);
    if (name == "." || name == "..") continue;
    if (!ValidReaderName(name)) {
      if (name.ends_with(".tmp")) (void)::unlink(CursorPath(name).c_str());
      continue;
    }
    auto raw = ReadFile(CursorPath(name));
    SpoolPos p;
    uint64_t dropped = 0;
    if (!raw || !DecodeCursor(*raw, &p, &dropped)) {
      log::Warn("log spool: cursor " + CursorPath(name) + " is damaged: output " + name +
                " starts over at the oldest record");
      p = Start();
      dropped = 0;
    }
    // Into a segment gone (deleted from outside, or cut with the checkpoint):
    // the oldest kept record, or the end.
    if (p < Start()) p = Start();
    if (end < p) p = end;
    if (p.offset < kHeaderBytes) p.offset = kHeaderBytes;
    auto st = std::make_shared<ReaderState>(name);
    st->cursor = st->read = st->disk_cursor = Normalize(p);
    st->dropped = dropped;
    readers.emplace(name, std::move(st));
  }
  ::closedir(d);
}

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& dir, const SpoolOptions& opts,
                                           std::string* checkpoint_blob) {
  std::string blob_sink;
  if (!checkpoint_blob) checkpoint_blob = &blob_sink;
  if (opts.budget_bytes < kMinBudget)
    return FailInvalid("log disk budget of " + std::to_string(opts.budget_bytes) +
                       " bytes is too small: use at least 64k");
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->cursor_dir = dir + "/cursors";
  impl->opts = opts;
  // The segment being written is never deleted: leave room for a second one.
  impl->opts.segment_bytes = std::clamp<uint64_t>(opts.segment_bytes, 4096, opts.budget_bytes / 2);
  impl->buf_cap = kWriteBuffer;
  impl->buf = std::make_unique<char[]>(impl->buf_cap);
  auto r = [&]() -> Result<void> {
    TRY(MkdirAll(impl->cursor_dir, 0700));
    TRY(impl->Load(checkpoint_blob));
    return {};
  }();
  if (!r) return Fail(std::move(r.error()).Wrap("open log spool " + dir));
  impl->LoadCursors();
  return std::unique_ptr<Spool>(new Spool(std::move(impl)));
}

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Spool::~Spool() {
  if (impl_->buf_len > 0) (void)impl_->Flush();
}

Result<void> Spool::Append(const SourceMeta& source, const Record& r) {
  Impl& m = *impl_;
  const uint32_t id = source.id;
  bool need_source = !(m.have_last_source && m.last_source == id) && !m.cur_sources.contains(id);
  const size_t rec_body = kRecordFixed + r.text.size() + r.fields.size();
  size_t src_body = need_source ? SourceBodySize(source) : 0;
  size_t need = kFrameHeader + rec_body + (need_source ? kFrameHeader + src_body : 0);
  // Alone in a segment it would still pass the budget: refuse it before the
  // budget drops anything for it.
  if (kHeaderBytes + need + (need_source ? 0 : kFrameHeader + SourceBodySize(source)) > m.opts.budget_bytes)
    return Fail(RecordTooBig(need, m.opts.budget_bytes));
  if (m.cur_bytes + need > m.opts.segment_bytes && m.cur_bytes > kHeaderBytes) {
    TRY(m.Roll());
    if (!need_source) {
      need_source = true;
      src_body = SourceBodySize(source);
      need += kFrameHeader + src_body;
    }
  }
  if (m.closed_seen + m.cur_bytes + need > m.opts.budget_bytes) TRY(m.MakeRoom(need));
  if (m.buf_len + need > m.buf_cap) {
    TRY(m.Flush());
    if (need > m.buf_cap) {
      m.buf_cap = need;
      m.buf = std::make_unique<char[]>(m.buf_cap);
    }
  }
  char* p = m.buf.get() + m.buf_len;
  if (need_source) {
    p = PutFrame(p, kKindSource, src_body, [&](char* b) { EncodeSource(source, b); });
    m.cur_sources.insert(id);
  }
  PutFrame(p, kKindRecord, rec_body, [&](char* b) {
    Put<int64_t>(b, r.time_ns);
    b[8] = static_cast<char>(r.stream);
    Put<uint32_t>(b + 9, id);
    Put<uint32_t>(b + 13, static_cast<uint32_t>(r.text.size()));
    if (!r.text.empty()) std::memcpy(b + 17, r.text.data(), r.text.size());
    Put<uint32_t>(b + 17 + r.text.size(), static_cast<uint32_t>(r.fields.size()));
    if (!r.fields.empty()) std::memcpy(b + 21 + r.text.size(), r.fields.data(), r.fields.size());
  });
  m.buf_len += need;
  m.cur_bytes += need;
  m.cur_records++;
  m.last_source = id;
  m.have_last_source = true;
  m.cur_size.store(m.cur_bytes, std::memory_order_relaxed);
  m.appended.store(++m.appended_local, std::memory_order_relaxed);
  // The record is in: a failed write here keeps the buffer for the next
  // Append or Publish to retry, and Publish reports it.
  if (m.buf_len >= kFlushBytes) (void)m.Flush();
  return {};
}

Result<void> Spool::Publish() {
  Impl& m = *impl_;
  TRY(m.Flush());
  {
    std::lock_guard lk(m.mu);
    m.end = {m.cur_seq, m.cur_flushed};
  }
  m.cv.notify_all();
  return {};
}

Result<void> Spool::Checkpoint(std::string_view blob) {
  Impl& m = *impl_;
  TRY(Publish());
  if (::fdatasync(m.fd.get()) != 0) return FailErrno("sync " + m.SegPath(m.cur_seq));
  for (auto& f : m.unsynced)
    if (::fdatasync(f.get()) != 0) return FailErrno("sync log spool segment");
  m.unsynced.clear();
  // The rename and the directory sync also make new segment files' names durable.
  return WriteFileDurable(m.dir + "/checkpoint", EncodeCheckpoint({m.cur_seq, m.cur_flushed}, blob));
}

SpoolStats Spool::Stats() const {
  const Impl& m = *impl_;
  std::lock_guard lk(m.mu);
  SpoolStats s;
  s.bytes = m.closed_bytes + m.cur_size.load(std::memory_order_relaxed);
  s.segments = m.segs.size();
  s.records_appended = m.appended.load(std::memory_order_relaxed);
  s.segments_dropped = m.segments_dropped;
  return s;
}

SpoolPos Spool::End() const {
  std::lock_guard lk(impl_->mu);
  return impl_->end;
}

// ---- readers ---------------------------------------------------------------------

namespace {

class Reader final : public SpoolReader {
 public:
  Reader(Spool::Impl* spool, std::shared_ptr<ReaderState> st) : m_(spool), st_(std::move(st)) {}
  ~Reader() override {
    std::lock_guard lk(m_->mu);
    st_->attached = false;
  }

  Result<std::vector<SpooledRecord>> Read(size_t max_records, size_t max_bytes, int timeout_ms) override;
  void Ack(SpoolPos pos) override {
    std::lock_guard lk(m_->mu);
    if (st_->cursor < pos) st_->cursor = std::min(pos, m_->end);
    if (st_->read < st_->cursor) st_->read = st_->cursor;
  }
  Result<void> Commit() override {
    {
      std::lock_guard lk(m_->mu);
      if (st_->removed) return FailInvalid("log spool reader " + st_->name + " was removed");
    }
    TRY(m_->WriteCursor(*st_));
    m_->CollectGarbage();
    return {};
  }
  void Rewind() override {
    std::lock_guard lk(m_->mu);
    st_->read = st_->cursor;
  }
  SpoolPos Cursor() const override {
    std::lock_guard lk(m_->mu);
    return st_->cursor;
  }
  uint64_t Dropped() const override {
    std::lock_guard lk(m_->mu);
    return st_->dropped;
  }
  uint64_t LagBytes() const override;
  int64_t OldestUnackedNs() const override;
  size_t SourcesKnown() const override { return sources_.size(); }

 private:
  struct Source {
    std::string raw;  // the frame body it was decoded from
    std::unique_ptr<SourceMeta> meta;
  };

  Result<void> OpenSegment(uint64_t seq);
  void LearnSource(const char* body, size_t len);
  Result<const SourceMeta*> Lookup(uint32_t id, uint64_t before);
  Result<void> Fill(uint64_t want, uint64_t limit, bool* eof);

  Spool::Impl* m_;
  std::shared_ptr<ReaderState> st_;
  UniqueFd fd_;
  uint64_t fd_seq_ = 0;
  bool fd_gone_ = false;
  // The window: buf_[0, win_len_) holds segment win_seq_ from offset win_off_.
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  uint64_t win_seq_ = 0;
  uint64_t win_off_ = 0;
  size_t win_len_ = 0;
  std::unordered_map<uint32_t, Source> sources_;  // of segment sources_seq_
  uint64_t sources_seq_ = 0;
  uint32_t last_id_ = 0;
  const SourceMeta* last_meta_ = nullptr;
};

Result<void> Reader::OpenSegment(uint64_t seq) {
  if (fd_ && fd_seq_ == seq) return {};
  fd_.Reset();
  std::string path = m_->SegPath(seq);
  UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) {
    if (errno == ENOENT) {  // deleted under us: the position check sorts it out
      fd_gone_ = true;
      return {};
    }
    return FailErrno("open " + path);
  }
  fd_ = std::move(f);
  fd_seq_ = seq;
  return {};
}

// Reads more of the window's segment (up to limit) so `want` bytes from the
// window's start are there.
Result<void> Reader::Fill(uint64_t want, uint64_t limit, bool* eof) {
  if (cap_ < want) {
    size_t cap = std::max<size_t>(want, cap_ * 2);
    auto grown = std::make_unique<char[]>(cap);
    std::memcpy(grown.get(), buf_.get(), win_len_);
    buf_ = std::move(grown);
    cap_ = cap;
  }
  uint64_t from = win_off_ + win_len_;
  size_t n = static_cast<size_t>(std::min<uint64_t>(cap_ - win_len_, limit > from ? limit - from : 0));
  size_t got = TRY(PreadFull(fd_.get(), buf_.get() + win_len_, n, from, m_->SegPath(win_seq_)));
  win_len_ += got;
  *eof = win_len_ < want;
  return {};
}

void Reader::LearnSource(const char* body, size_t len) {
  if (len < 4) return;
  uint32_t id = Get<uint32_t>(body);
  Source& s = sources_[id];
  if (s.meta && s.raw == std::string_view(body, len)) return;
  SourceMeta meta;
  if (!DecodeSource(body, len, &meta)) return;
  if (!s.meta) s.meta = std::make_unique<SourceMeta>();
  *s.meta = std::move(meta);  // same object: pointers handed out stay valid
  s.raw.assign(body, len);
}

// The meta of source `id`. Unknown (the read started mid-segment, after its
// source frame): look for it in the segment before `before`.
Result<const SourceMeta*> Reader::Lookup(uint32_t id, uint64_t before) {
  if (last_meta_ && last_id_ == id) return last_meta_;
  auto it = sources_.find(id);
  if (it == sources_.end()) {
    TRY(ScanFrames(fd_.get(), m_->SegPath(win_seq_), kHeaderBytes, before, [&](uint64_t, const Frame& f) {
      if (f.kind == kKindSource) LearnSource(f.body, f.len);
      return true;
    }));
    it = sources_.find(id);
    if (it == sources_.end()) {  // damage: keep the record, with only its id
      Source& s = sources_[id];
      s.meta = std::make_unique<SourceMeta>();
      s.meta->id = id;
      it = sources_.find(id);
    }
  }
  last_id_ = id;
  last_meta_ = it->second.meta.get();
  return last_meta_;
}

Result<std::vector<SpooledRecord>> Reader::Read(size_t max_records, size_t max_bytes, int timeout_ms) {
  std::vector<SpooledRecord> out;
  if (max_records == 0) return out;
  out.reserve(std::min<size_t>(max_records, 1024));
  if (!buf_) {
    cap_ = std::max(kReadChunk, max_bytes + kFrameHeader);
    buf_ = std::make_unique<char[]>(cap_);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    SpoolPos pos;
    uint64_t gen = 0, limit = 0;
    bool last_segment = false;
    {
      std::unique_lock lk(m_->mu);
      for (;;) {
        st_->read = m_->Normalize(st_->read);
        if (st_->read < m_->end) break;
        if (timeout_ms <= 0 || std::chrono::steady_clock::now() >= deadline) return out;
        m_->cv.wait_until(lk, deadline);
      }
      pos = st_->read;
      gen = st_->gen;
      last_segment = pos.segment == m_->end.segment;
      const SegInfo* s = m_->Find(pos.segment);
      limit = last_segment ? m_->end.offset : (s ? s->size : 0);
    }

    fd_gone_ = false;
    TRY(OpenSegment(pos.segment));
    // A segment declares every source it uses before its first record: the
    // previous segment's label sets (many short-lived containers) can go.
    // (out is empty here: no pointer handed out in this Read is dropped.)
    if (sources_seq_ != pos.segment) {
      sources_.clear();
      last_meta_ = nullptr;
      sources_seq_ = pos.segment;
    }
    if (!(win_seq_ == pos.segment && win_off_ <= pos.offset && pos.offset <= win_off_ + win_len_)) {
      win_seq_ = pos.segment;
      win_off_ = pos.offset;
      win_len_ = 0;
    }
    size_t start = static_cast<size_t>(pos.offset - win_off_);
    size_t bytes = 0;
    bool corrupt = false;
    while (!fd_gone_ && out.size() < max_records && (bytes < max_bytes || out.empty())) {
      uint64_t off = win_off_ + start;
      if (off >= limit) break;
      Frame f;
      Parse r = ParseFrame(buf_.get() + start, win_len_ - start, &f);
      if (r == Parse::kNeedMore) {
        if (!out.empty()) break;  // refilling moves the bytes under the views handed out
        uint64_t want = FrameWant(buf_.get() + start, win_len_ - start);
        if (off + want > limit) {
          corrupt = true;
          break;
        }
        std::memmove(buf_.get(), buf_.get() + start, win_len_ - start);
        win_len_ -= start;
        win_off_ = off;
        start = 0;
        bool eof = false;
        TRY(Fill(want, limit, &eof));
        if (eof) {
          corrupt = true;
          break;
        }
        continue;
      }
      if (r == Parse::kCorrupt) {
        corrupt = true;
        break;
      }
      uint64_t next = off + f.size();
      if (f.kind == kKindSource) {
        LearnSource(f.body, f.len);
      } else {
        SpooledRecord rec;
        if (!DecodeRecord(f.body, f.len, &rec.record)) {
          corrupt = true;
          break;
        }
        rec.source = TRY(Lookup(rec.record.source, off));
        rec.next = {pos.segment, next};
        out.push_back(rec);
        bytes += f.size();
      }
      start += f.size();
    }
    SpoolPos reached{pos.segment, win_off_ + start};

    std::lock_guard lk(m_->mu);
    if (st_->gen != gen || st_->read != pos) {  // the budget moved us meanwhile
      out.clear();
      continue;
    }
    if (fd_gone_) return FailInvalid("log spool segment " + m_->SegPath(pos.segment) + " vanished");
    if (corrupt) {
      log::Warn("log spool: " + m_->SegPath(pos.segment) + ": corrupt frame at offset " +
                std::to_string(reached.offset) + ": skipping the rest of the segment");
      if (!out.empty()) {
        st_->read = reached;  // the good records first; the next Read skips
        return out;
      }
      if (last_segment) return out;  // cannot happen with our own writes; wait for more
      st_->read = {pos.segment + 1, kHeaderBytes};
      continue;
    }
    st_->read = reached;
    if (!out.empty()) return out;
  }
}

uint64_t Reader::LagBytes() const {
  std::lock_guard lk(m_->mu);
  SpoolPos c = m_->Normalize(st_->cursor);
  const SpoolPos& e = m_->end;
  if (!(c < e)) return 0;
  if (c.segment == e.segment) return e.offset - c.offset;
  uint64_t lag = 0;
  for (uint64_t seq = c.segment; seq < e.segment; ++seq) {
    const SegInfo* s = m_->Find(seq);
    if (!s) continue;
    uint64_t from = seq == c.segment ? c.offset : kHeaderBytes;
    if (s->size > from) lag += s->size - from;
  }
  return lag + e.offset - kHeaderBytes;
}

int64_t Reader::OldestUnackedNs() const {
  SpoolPos c;
  SpoolPos e;
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // (segment, limit) from the cursor to the end
  {
    std::lock_guard lk(m_->mu);
    c = m_->Normalize(st_->cursor);
    e = m_->end;
    for (uint64_t seq = c.segment; seq <= e.segment && spans.size() < 4; ++seq) {
      const SegInfo* s = m_->Find(seq);
      if (s) spans.emplace_back(seq, seq == e.segment ? e.offset : s->size);
    }
  }
  if (!(c < e)) return 0;
  for (auto [seq, limit] : spans) {
    std::string path = m_->SegPath(seq);
    UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!f) return 0;
    int64_t t = 0;
    bool found = false;
    auto r = ScanFrames(f.get(), path, seq == c.segment ? c.offset : kHeaderBytes, limit,
                        [&](uint64_t, const Frame& fr) {
                          if (fr.kind != kKindRecord || fr.len < 8) return true;
                          t = Get<int64_t>(fr.body);
                          found = true;
                          return false;
                        });
    if (!r) return 0;
    if (found) return t;
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<SpoolReader>> Spool::OpenReader(const std::string& name) {
  Impl& m = *impl_;
  if (!ValidReaderName(name))
    return FailInvalid("log spool reader name \"" + name + "\" is invalid: use letters, digits, '-', '_' and '.'");
  std::shared_ptr<ReaderState> st;
  bool fresh = false;
  {
    std::lock_guard lk(m.mu);
    auto it = m.readers.find(name);
    if (it != m.readers.end()) {
      st = it->second;
      if (st->attached) return FailInvalid("log spool reader " + name + " is already open");
    } else {
      st = std::make_shared<ReaderState>(name);
      st->cursor = st->read = st->disk_cursor = m.Start();
      m.readers.emplace(name, st);
      fresh = true;
    }
    st->attached = true;
  }
  if (fresh) {
    auto r = m.WriteCursor(*st);
    if (!r) {
      std::lock_guard lk(m.mu);
      m.readers.erase(name);
      return Fail(std::move(r.error()).Wrap("open log spool reader " + name));
    }
  }
  return std::unique_ptr<SpoolReader>(new Reader(&m, std::move(st)));
}

Result<void> Spool::RemoveReader(const std::string& name) {
  Impl& m = *impl_;
  std::shared_ptr<ReaderState> st;
  {
    std::lock_guard lk(m.mu);
    auto it = m.readers.find(name);
    if (it == m.readers.end()) return {};
    st = it->second;
    st->removed = true;
    m.readers.erase(it);
  }
  {
    std::lock_guard flk(st->file_mu);
    std::string path = m.CursorPath(name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return FailErrno("delete " + path);
  }
  m.CollectGarbage();
  return {};
}

}  // namespace moor::logship
