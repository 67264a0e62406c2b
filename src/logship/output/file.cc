// File output: json_lines appended to one path. logrotate's default (rename,
// then a new file appears) is followed: before each batch the path is
// checked, and a different inode — or none — means reopen. What was written
// is fdatasync'ed before the cursor is committed.
#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "logship/output/transport.h"

namespace moor::logship::internal {
namespace {

class FileTransport : public Transport {
 public:
  explicit FileTransport(const OutputConfig& cfg) : cfg_(cfg) {}

  Result<void> Connect() override {
    Close();
    if (cfg_.address.empty() || cfg_.address[0] != '/') return FailInvalid("the file path must be absolute");
    size_t slash = cfg_.address.rfind('/');
    if (slash > 0) TRY(MkdirAll(cfg_.address.substr(0, slash), 0750));
    fd_.Reset(::open(cfg_.address.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd_) return Fail(Error(errno, "open: " + ErrnoText(errno)));
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return Fail(Error(errno, "fstat: " + ErrnoText(errno)));
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return {};
  }

  void Close() override {
    if (fd_) (void)::fdatasync(fd_.get());
    fd_.Reset();
  }

  Result<SendOutcome> Send(std::span<const SpooledRecord> recs) override {
    struct stat st {};
    if (::stat(cfg_.address.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_) TRY(Connect());
    buf_.clear();
    for (const SpooledRecord& r : recs) EncodeStreamRecord(cfg_, r, &buf_);
    std::string_view left = buf_;
    while (!left.empty()) {
      ssize_t n = ::write(fd_.get(), left.data(), left.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(Error(errno, "write: " + ErrnoText(errno)));
      left.remove_prefix(static_cast<size_t>(n));
    }
    SendOutcome out;
    out.ticket = ++sent_;
    out.bytes = buf_.size();
    return out;
  }

  Result<uint64_t> Confirmed() override { return sent_; }

  Result<void> Flush() override {
    if (fd_ && ::fdatasync(fd_.get()) != 0) return Fail(Error(errno, "fdatasync: " + ErrnoText(errno)));
    return {};
  }

 private:
  const OutputConfig& cfg_;
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t sent_ = 0;
  std::string buf_;
};

}  // namespace

std::unique_ptr<Transport> NewFileTransport(const OutputConfig& cfg) {
  return std::make_unique<FileTransport>(cfg);
}

}  // namespace moor::logship::internal
