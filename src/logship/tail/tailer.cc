// LogTailer: follows one container's json-file log across rotations.
//
// The monitor rotates PATH → PATH.1 → … by rename, so a file keeps its inode
// while it moves; the tailer names files by (dev, ino) and finds them again
// among the rotated names. The writer never writes to a file once it has
// renamed it, so "the open file is no longer PATH" means: read it to its end,
// then go on with the next newer one.
#include "logship/tail/tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace moor::logship {
namespace {

// One read: large, so a busy log costs few syscalls.
constexpr size_t kReadSize = 1 << 20;

}  // namespace

LogTailer::LogTailer(std::string path, int max_files, TailPos start, size_t max_line_bytes, uint64_t max_held_bytes)
    : path_(std::move(path)),
      max_files_(max_files < 1 ? 1 : max_files),
      pos_(start),
      max_line_bytes_(max_line_bytes),
      max_held_bytes_(max_held_bytes) {}

void LogTailer::DropHeldUpToCur() {
  for (size_t i = 0; i < held_.size(); ++i) {
    if (held_[i].first == cur_) {
      held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return;
    }
  }
}

// Opens path; with want, only when it is that file (it may have moved on
// since it was looked up). false: not there (or not that file).
Result<bool> LogTailer::OpenFile(const std::string& path, const FileId* want) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return false;
    return FailErrno("open log " + path + " (check the permissions of the log directory)");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno("stat log " + path);
  FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  if (want && id != *want) return false;
  fd_ = std::move(fd);
  cur_ = id;
  off_ = 0;
  len_ = 0;
  skipping_ = false;
  opened_ = true;
  return true;
}

namespace {

struct ChainFile {
  std::string name;
  uint64_t dev = 0, ino = 0;  // 0, 0: not there
  int64_t btime_ns = 0;       // creation time (statx), 0 when the filesystem has none
};

int64_t BirthNs(const struct statx& sx) {
  if (!(sx.stx_mask & STATX_BTIME)) return 0;
  return static_cast<int64_t>(sx.stx_btime.tv_sec) * 1'000'000'000 + sx.stx_btime.tv_nsec;
}

// Creation time of an open file (0 when unknown).
int64_t BirthOfFd(int fd) {
  struct statx sx;
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) != 0) return 0;
  return BirthNs(sx);
}

// The files of the chain, newest (PATH) first.
std::vector<ChainFile> Chain(const std::string& path, int max_files) {
  std::vector<ChainFile> out(static_cast<size_t>(max_files));
  for (int i = 0; i < max_files; ++i) {
    ChainFile& f = out[static_cast<size_t>(i)];
    f.name = i == 0 ? path : path + "." + std::to_string(i);
    struct statx sx;
    if (::statx(AT_FDCWD, f.name.c_str(), 0, STATX_INO | STATX_BTIME, &sx) == 0) {
      f.dev = static_cast<uint64_t>(makedev(sx.stx_dev_major, sx.stx_dev_minor));  // as stat's st_dev
      f.ino = sx.stx_ino;
      f.btime_ns = BirthNs(sx);
    }
  }
  return out;
}

// The chain as one consistent picture: names are stat'ed one by one while
// the writer renames, and a reader preempted mid-scan can see a file twice
// or not at all. Two scans in a row that agree are taken as the truth.
std::vector<ChainFile> StableChain(const std::string& path, int max_files) {
  auto same = [](const std::vector<ChainFile>& a, const std::vector<ChainFile>& b) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].dev != b[i].dev || a[i].ino != b[i].ino) return false;
    }
    return true;
  };
  auto a = Chain(path, max_files);
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto b = Chain(path, max_files);
    if (same(a, b)) return b;
    a = std::move(b);
  }
  return a;
}

}  // namespace

bool LogTailer::IsFinishedFile(uint64_t dev, uint64_t ino, int64_t btime_ns) const {
  if (btime_ns == 0) return false;  // without creation times an inode number alone proves nothing
  for (const auto& f : finished_) {
    if (f.dev == dev && f.ino == ino && f.btime_ns == btime_ns) return true;
  }
  return false;
}

Result<bool> LogTailer::OpenById(FileId want) {
  for (int attempt = 0; attempt < 3; ++attempt) {  // a rotation may move it between stat and open
    bool seen = false;
    for (const ChainFile& f : Chain(path_, max_files_)) {
      if (f.dev != want.dev || f.ino != want.ino) continue;
      seen = true;
      if (TRY(OpenFile(f.name, &want))) return true;
      break;
    }
    if (!seen) return false;
  }
  return false;
}

Result<bool> LogTailer::OpenOldest() {
  auto chain = StableChain(path_, max_files_);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it)
    if (it->ino != 0 && !IsFinishedFile(it->dev, it->ino, it->btime_ns) && TRY(OpenFile(it->name, nullptr))) return true;
  return false;
}

Result<void> LogTailer::OpenStart() {
  if (pos_.ino != 0) {
    if (TRY(OpenById(FileId{pos_.dev, pos_.ino}))) {
      struct stat st;
      if (::fstat(fd_.get(), &st) != 0) return FailErrno("stat log " + path_);
      off_ = static_cast<uint64_t>(st.st_size) < pos_.offset ? 0 : pos_.offset;  // truncated since: from its start
      pos_.offset = off_;
      return {};
    }
    if (!TRY(OpenOldest())) return {};  // nothing there (yet): try again next Poll
    ++stats_.missed_files;              // the saved file was rotated away
  } else if (!TRY(OpenOldest())) {
    return {};
  }
  pos_ = TailPos{cur_.dev, cur_.ino, 0};
  return {};
}

// The file to read after the open one, when the open one is no longer PATH.
Result<void> LogTailer::HoldNewer() {
  auto chain = StableChain(path_, max_files_);
  auto id_at = [&](size_t i) { return FileId{chain[i].dev, chain[i].ino}; };
  FileId newest = held_.empty() ? cur_ : held_.back().first;
  size_t k = chain.size();  // newest's index; chain.size(): rotated out of the chain
  for (size_t i = 0; i < chain.size(); ++i) {
    if (id_at(i) == newest) {
      k = i;
      break;
    }
  }
  if (k == 0) return {};  // the newest held is the live file

  // The open file itself is gone from the chain while newer files are there:
  // the writer rotated through every name since the last look, and files
  // between may be gone unread.
  bool lost_sight = k == chain.size() && held_.empty();
  for (size_t i = k; i-- > 0;) {
    if (chain[i].ino == 0) continue;
    // A file read to its end already is not newer, whatever its name says
    // (the container's directory being removed makes names vanish in any
    // order); its inode number alone could be a new file's, so with its
    // creation time.
    if (IsFinishedFile(chain[i].dev, chain[i].ino, chain[i].btime_ns)) continue;
    UniqueFd fd(::open(chain[i].name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return {};  // rotating right now: next Poll
      return FailErrno("open log " + chain[i].name);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return FailErrno("stat log " + chain[i].name);
    FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
    if (id != id_at(i)) return {};  // it moved since: next Poll
    // The chain is stat'ed name by name while the writer renames, so one file
    // can show up under two names: hold each file once.
    bool known = id == cur_;
    for (const auto& h : held_) known |= h.first == id;
    if (known) continue;
    held_.emplace_back(id, std::move(fd));
    if (lost_sight) {
      ++stats_.missed_files;
      lost_sight = false;
    }
  }
  // A tailer far behind a fast writer holds at most this many files (their
  // space stays in use until read); beyond, the oldest is given up, counted.
  size_t min_held = static_cast<size_t>(max_files_) * 2 + 2;
  auto held_bytes = [&] {
    uint64_t sum = 0;
    for (const auto& h : held_) {
      struct stat hs;
      if (::fstat(h.second.get(), &hs) == 0) sum += static_cast<uint64_t>(hs.st_size);
    }
    return sum;
  };
  while (held_.size() > min_held && held_bytes() > max_held_bytes_) {
    std::string chunk(1 << 20, '\0');
    off_t at = 0;
    for (;;) {
      ssize_t n = ::pread(held_.front().second.get(), chunk.data(), chunk.size(), at);
      if (n <= 0) break;
      stats_.lost_lines += static_cast<uint64_t>(std::count(chunk.data(), chunk.data() + n, '\n'));
      at += n;
    }
    ++stats_.missed_files;
    held_.pop_front();
  }
  return {};
}

Result<std::optional<LogTailer::FileId>> LogTailer::Successor() {
  if (!held_.empty()) {
    succ_ = held_.front().first;
    return succ_;
  }
  auto chain = StableChain(path_, max_files_);
  auto id_at = [&](size_t i) { return FileId{chain[i].dev, chain[i].ino}; };
  for (size_t k = 0; k < chain.size(); ++k) {
    if (id_at(k) != cur_) continue;
    if (k == 0) return std::nullopt;  // the live file
    for (size_t j = k; j-- > 0;) {
      if (id_at(j).ino == 0) continue;  // the writer is between rename and create
      succ_ = id_at(j);
      return succ_;
    }
    return std::nullopt;
  }
  // The open file was rotated away (or PATH is a new file): the one seen
  // after it, else the oldest there.
  bool succ_there = false;
  for (size_t i = 0; i < chain.size(); ++i) succ_there |= succ_.ino != 0 && id_at(i) == succ_;
  if (succ_there) return succ_;
  for (size_t i = chain.size(); i-- > 0;) {
    if (id_at(i).ino == 0 || IsFinishedFile(chain[i].dev, chain[i].ino, chain[i].btime_ns)) continue;
    if (succ_.ino != 0) ++stats_.missed_files;  // its successor is gone too
    succ_ = id_at(i);
    return succ_;
  }
  return std::nullopt;  // no file at all (the container was removed)
}

Result<void> LogTailer::SwitchTo(FileId next) {
  if (len_ > 0 || skipping_) ++stats_.bad_records;  // a record cut off at the end of a finished file
  if (int64_t birth = BirthOfFd(fd_.get()); birth != 0) {
    finished_.push_back(Finished{cur_.dev, cur_.ino, birth});
    if (finished_.size() > 64) finished_.pop_front();
  }
  if (!held_.empty() && held_.front().first == next) {
    fd_ = std::move(held_.front().second);
    held_.pop_front();
    cur_ = next;
    off_ = 0;
    len_ = 0;
    skipping_ = false;
    opened_ = true;
  } else {
    if (!TRY(OpenById(next))) {
      if (!TRY(OpenOldest())) {  // everything is gone
        fd_.Reset();
        opened_ = false;
        return {};
      }
      ++stats_.missed_files;
    }
    DropHeldUpToCur();  // opened by name: it may be one that is held too
  }
  succ_ = FileId{};
  if (!partial_active_) pos_ = TailPos{cur_.dev, cur_.ino, 0};
  return {};
}

Result<void> LogTailer::Hold() {
  if (!opened_) {
    TRY(OpenStart());
    if (!opened_) return {};
  }
  return HoldNewer();
}

Result<size_t> LogTailer::Poll(const std::function<void(const TailLine&)>& on_line, size_t max_bytes) {
  size_t lines = 0;
  if (!opened_) {
    TRY(OpenStart());
    if (!opened_) return lines;
  }
  TRY(HoldNewer());
  size_t read = 0;
  std::optional<FileId> next;  // set once the open file is known to be rotated: finish it, then switch
  while (read < max_bytes) {
    if (buf_.size() < len_ + kReadSize) buf_.resize(len_ + kReadSize);
    ssize_t n = ::pread(fd_.get(), buf_.data() + len_, buf_.size() - len_, static_cast<off_t>(off_ + len_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read log " + path_);
    }
    if (n > 0) {
      len_ += static_cast<size_t>(n);
      read += static_cast<size_t>(n);
      Consume(on_line, &lines);
      // Between two reads the writer may rotate: hold what it made meanwhile
      // (a few stat calls a MiB) before it can rotate them away.
      TRY(HoldNewer());
      continue;
    }
    // At the end of the open file.
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return FailErrno("stat log " + path_);
    if (static_cast<uint64_t>(st.st_size) < off_ + len_) {
      // Truncated in place (max_files 1): what was there is gone; start over.
      if (partial_active_) EmitPartial(TailPos{cur_.dev, cur_.ino, 0}, on_line, &lines);
      off_ = 0;
      len_ = 0;
      skipping_ = false;
      pos_ = TailPos{cur_.dev, cur_.ino, 0};
      continue;
    }
    if (!next) {
      TRY(HoldNewer());
      next = TRY(Successor());
      if (!next) break;  // caught up with the live file
      continue;          // records written before the rotation may have landed since the last read
    }
    TRY(SwitchTo(*next));
    if (!opened_) break;
    next.reset();
  }
  return lines;
}

void LogTailer::Consume(const OnLine& on_line, size_t* lines) {
  char* data = buf_.data();
  size_t i = 0;
  while (i < len_) {
    auto* nl = static_cast<char*>(std::memchr(data + i, '\n', len_ - i));
    if (nl == nullptr) break;
    size_t end = static_cast<size_t>(nl - data);
    if (skipping_) {  // the end of an oversized record
      skipping_ = false;
      ++stats_.bad_records;
      if (!partial_active_) pos_ = TailPos{cur_.dev, cur_.ino, off_ + end + 1};
    } else {
      Record(std::string_view(data + i, end - i), off_ + i, off_ + end + 1, on_line, lines);
    }
    i = end + 1;
  }
  if (i > 0) {
    std::memmove(data, data + i, len_ - i);
    off_ += i;
    len_ -= i;
  }
  // A record longer than any line could be (JSON escapes take up to 6
  // bytes a byte) is not one; drop it up to its newline.
  size_t max_record = std::max<size_t>(8 << 20, max_line_bytes_ * 6 + (64 << 10));
  if (len_ > max_record) {
    skipping_ = true;
    off_ += len_;
    len_ = 0;
  }
}

void LogTailer::Record(std::string_view rec, uint64_t start, uint64_t end, const OnLine& on_line, size_t* lines) {
  Stream stream;
  int64_t time_ns;
  if (!DecodeJsonFileRecord(rec, &text_, &stream, &time_ns)) {
    ++stats_.bad_records;
    if (!partial_active_) pos_ = TailPos{cur_.dev, cur_.ino, end};
    return;
  }
  bool complete = !text_.empty() && text_.back() == '\n';
  if (complete) text_.pop_back();
  // The writer splits lines per stream; pieces of one stream never continue
  // with the other's records, so such a record ends the pending line.
  if (partial_active_ && stream != partial_stream_) EmitPartial(TailPos{cur_.dev, cur_.ino, start}, on_line, lines);
  if (!partial_active_ && complete) {
    bool cut = text_.size() > max_line_bytes_;
    Emit(std::string_view(text_).substr(0, max_line_bytes_), time_ns, stream, TailPos{cur_.dev, cur_.ino, end}, cut,
         on_line, lines);
    return;
  }
  if (!partial_active_) {
    partial_active_ = true;
    partial_cut_ = false;
    partial_.clear();
    partial_time_ns_ = time_ns;
    partial_stream_ = stream;
  }
  size_t room = max_line_bytes_ - std::min(max_line_bytes_, partial_.size());
  if (text_.size() > room) partial_cut_ = true;
  partial_.append(text_, 0, std::min(room, text_.size()));
  partial_end_ = end;
  if (complete) EmitPartial(TailPos{cur_.dev, cur_.ino, end}, on_line, lines);
}

size_t LogTailer::FlushPartial(const OnLine& on_line) {
  size_t lines = 0;
  if (partial_active_) EmitPartial(TailPos{cur_.dev, cur_.ino, partial_end_}, on_line, &lines);
  return lines;
}

void LogTailer::EmitPartial(TailPos next, const OnLine& on_line, size_t* lines) {
  partial_active_ = false;
  Emit(partial_, partial_time_ns_, partial_stream_, next, partial_cut_, on_line, lines);
}

void LogTailer::Emit(std::string_view text, int64_t time_ns, Stream stream, TailPos next, bool cut,
                     const OnLine& on_line, size_t* lines) {
  pos_ = next;
  ++stats_.lines;
  stats_.bytes += text.size();
  if (cut) ++stats_.truncated_lines;
  ++*lines;
  on_line(TailLine{time_ns, stream, text, next});
}

}  // namespace moor::logship
