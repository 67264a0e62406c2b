// LogWriter: the json-file log of a container.
//
// The monitor writes every line a container prints, so this is a hot path
// (100-byte lines at 100 MiB/s are a million records a second): the records
// of one Write() go out in one write(), the time is formatted once a second,
// and text is quoted eight bytes at a time while it needs no escape.
#include "monitor/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace moor::monitor {
namespace {

// Docker's maximum record payload; longer lines become several records.
constexpr size_t kMaxRecord = 16 * 1024;
// A batch this large is written out before more records are added.
constexpr size_t kMaxBatch = 1 << 20;
constexpr int64_t kNs = 1'000'000'000;

// Whether any byte of w needs more than a copy in a JSON string: a control
// character, '"', '\\', or a byte of a multi-byte UTF-8 sequence (validated).
inline bool NeedsWork(uint64_t w) {
  constexpr uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t v) { return (v - k01) & ~v & k80; };
  uint64_t below_space = (w - k01 * 0x20) & ~w & k80;
  return (below_space | (w & k80) | has_zero(w ^ (k01 * '"')) | has_zero(w ^ (k01 * '\\'))) != 0;
}

inline bool Plain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// Appends text as the body of a JSON string (no quotes), as Go's encoder
// writes it: invalid UTF-8 becomes \ufffd.
void AppendJsonBody(std::string& out, std::string_view text) {
  const char* p = text.data();
  size_t n = text.size(), i = 0;
  while (i < n) {
    size_t start = i;
    for (uint64_t w; i + 8 <= n; i += 8) {
      std::memcpy(&w, p + i, 8);
      if (NeedsWork(w)) break;
    }
    while (i < n && Plain(static_cast<unsigned char>(p[i]))) ++i;
    out.append(p + start, i - start);
    if (i == n) break;
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, 6);
        }
      }
      ++i;
      continue;
    }
    // Multi-byte sequence: length from the lead byte, then check continuation
    // bytes, overlong forms, surrogates and the upper bound.
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) len = 3;
    bool ok = len != 0 && i + len <= n;
    uint32_t cp = 0;
    if (ok) {
      cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
      for (size_t k = 1; k < len && ok; ++k) {
        unsigned char cc = static_cast<unsigned char>(p[i + k]);
        if ((cc & 0xC0) != 0x80) ok = false;
        cp = (cp << 6) | (cc & 0x3F);
      }
      if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
                 (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
        ok = false;
    }
    if (!ok) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(p + i, len);
    i += len;
  }
}

}  // namespace

std::string JsonQuoteUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  AppendJsonBody(out, text);
  out += '"';
  return out;
}

LogWriter::LogWriter(std::string path, int64_t max_size, int max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files < 1 ? 1 : max_files) {}

Result<void> LogWriter::Open() {
  fd_.Reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) return FailErrno("open log " + path_);
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return FailErrno("stat log " + path_);
  size_ = st.st_size;
  return {};
}

Result<void> LogWriter::Write(std::string_view stream, std::string_view data) {
  now_ns_ = NowUnixNs();  // the lines of one read arrived together
  std::string& partial = stream == "stderr" ? partial_err_ : partial_out_;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    // The common case: a whole line in data, nothing held back.
    if (nl != std::string_view::npos && partial.empty() && nl <= kMaxRecord) {
      TRY(AddRecord(stream, data.substr(0, nl), true));
      data.remove_prefix(nl + 1);
      continue;
    }
    if (nl == std::string_view::npos) {
      partial.append(data);
      data = {};
    } else {
      partial.append(data.substr(0, nl));
      data.remove_prefix(nl + 1);
    }
    // Full 16 KiB pieces of an unfinished (or long) line go out at once.
    size_t off = 0;
    while (partial.size() - off > kMaxRecord) {
      TRY(AddRecord(stream, std::string_view(partial).substr(off, kMaxRecord), false));
      off += kMaxRecord;
    }
    if (nl != std::string_view::npos) {
      TRY(AddRecord(stream, std::string_view(partial).substr(off), true));
      partial.clear();
    } else {
      partial.erase(0, off);
    }
  }
  return WriteOut(batch_.size());
}

Result<void> LogWriter::Flush() {
  now_ns_ = NowUnixNs();
  if (!partial_out_.empty()) TRY(AddRecord("stdout", partial_out_, false));
  partial_out_.clear();
  if (!partial_err_.empty()) TRY(AddRecord("stderr", partial_err_, false));
  partial_err_.clear();
  return WriteOut(batch_.size());
}

Result<void> LogWriter::AddRecord(std::string_view stream, std::string_view text, bool newline) {
  if (!fd_) return FailInvalid("log " + path_ + " is not open");
  if (batch_.size() >= kMaxBatch) TRY(WriteOut(batch_.size()));
  size_t start = batch_.size();
  batch_ += "{\"log\":\"";
  AppendJsonBody(batch_, text);
  // The rest of the record is assembled on the stack: one append.
  int64_t sec = now_ns_ / kNs, nsec = now_ns_ % kNs;
  if (sec != stamp_sec_) {
    stamp_ = FormatRfc3339Nano(sec * kNs);
    stamp_.resize(20);  // "2026-11-27T10:00:00."
    stamp_sec_ = sec;
  }
  char tail[128];
  char* t = tail;
  auto put = [&t](std::string_view s) {
    std::memcpy(t, s.data(), s.size());
    t += s.size();
  };
  if (newline) put("\\n");
  put("\",\"stream\":\"");
  put(stream.substr(0, 32));  // "stdout" | "stderr"; the cap keeps tail in bounds
  put("\",\"time\":\"");
  put(stamp_);
  for (int k = 8; k >= 0; --k, nsec /= 10) t[k] = static_cast<char>('0' + nsec % 10);
  t += 9;
  put("Z\"}\n");
  batch_.append(tail, static_cast<size_t>(t - tail));
  auto len = static_cast<int64_t>(batch_.size() - start);
  if (max_size_ > 0 && size_ > 0 && size_ + len > max_size_) {
    TRY(WriteOut(start));  // the records before this one belong to the old file
    TRY(Rotate());
  }
  size_ += len;
  return {};
}

Result<void> LogWriter::WriteOut(size_t n) {
  // Whole records only: a follower sees a partial record only while a
  // write() is short (a full disk), as with one write per record.
  std::string_view rest(batch_.data(), n);
  while (!rest.empty()) {
    ssize_t w = ::write(fd_.get(), rest.data(), rest.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      size_ -= static_cast<int64_t>(rest.size());  // never written
      batch_.clear();
      return FailErrno("write log " + path_);
    }
    rest.remove_prefix(static_cast<size_t>(w));
  }
  batch_.erase(0, n);
  return {};
}

Result<void> LogWriter::Rotate() {
  fd_.Reset();
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (max_files_ == 1) {
    flags |= O_TRUNC;  // no rotated files: start over (as Docker with max-file=1)
  } else {
    for (int i = max_files_ - 1; i >= 1; --i) {
      std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
      std::string to = path_ + "." + std::to_string(i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return FailErrno("rotate log " + from);
    }
  }
  fd_.Reset(::open(path_.c_str(), flags, 0640));
  if (!fd_) {
    batch_.clear();
    return FailErrno("open log " + path_);
  }
  size_ = 0;
  return {};
}

}  // namespace moor::monitor
