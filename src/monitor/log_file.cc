// LogWriter: the json-file log of a container.
#include "monitor/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace moor::monitor {
namespace {

// Docker's maximum record payload; longer lines become several records.
constexpr size_t kMaxRecord = 16 * 1024;

}  // namespace

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
  std::string& partial = stream == "stderr" ? partial_err_ : partial_out_;
  while (!data.empty()) {
    size_t nl = data.find('\n');
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
      TRY(WriteRecord(stream, std::string_view(partial).substr(off, kMaxRecord), false));
      off += kMaxRecord;
    }
    if (nl != std::string_view::npos) {
      TRY(WriteRecord(stream, std::string_view(partial).substr(off), true));
      partial.clear();
    } else {
      partial.erase(0, off);
    }
  }
  return {};
}

Result<void> LogWriter::Flush() {
  if (!partial_out_.empty()) TRY(WriteRecord("stdout", partial_out_, false));
  partial_out_.clear();
  if (!partial_err_.empty()) TRY(WriteRecord("stderr", partial_err_, false));
  partial_err_.clear();
  return {};
}

Result<void> LogWriter::WriteRecord(std::string_view stream, std::string_view text, bool newline) {
  if (!fd_) return FailInvalid("log " + path_ + " is not open");
  record_.clear();
  record_ += "{\"log\":";
  std::string quoted = JsonQuoteUtf8(text);
  if (newline) quoted.insert(quoted.size() - 1, "\\n");
  record_ += quoted;
  record_ += ",\"stream\":\"";
  record_ += stream;
  record_ += "\",\"time\":\"";
  record_ += FormatRfc3339Nano(NowUnixNs());
  record_ += "\"}\n";
  TRY(RotateIfNeeded(record_.size()));
  // One write per record: a follower never sees half a record from a full disk retry.
  std::string_view rest = record_;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("write log " + path_);
    }
    rest.remove_prefix(static_cast<size_t>(n));
    size_ += n;
  }
  return {};
}

Result<void> LogWriter::RotateIfNeeded(size_t next) {
  if (max_size_ <= 0 || size_ == 0 || size_ + static_cast<int64_t>(next) <= max_size_) return {};
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
  if (!fd_) return FailErrno("open log " + path_);
  size_ = 0;
  return {};
}

}  // namespace moor::monitor
