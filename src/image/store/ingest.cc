// Ingests: one writer per digest (flock on ingest/<hex>/lock, across threads
// and processes), resumable partial data, verified commit into blobs/.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "image/store/blob_files.h"
#include "image/store/content_store.h"

namespace moor::image {
namespace {

using store_detail::CommitBlobFile;
using store_detail::DigestMismatch;
using store_detail::WriteFully;

class PresentIngest final : public Ingest {
 public:
  explicit PresentIngest(int64_t size) : size_(size) {}
  bool AlreadyPresent() const override { return true; }
  int64_t Offset() const override { return size_; }
  Result<void> Write(const void*, size_t) override { return FailInvalid("blob is already in the store"); }
  Result<void> Reset() override { return {}; }
  Result<void> Commit() override { return {}; }

 private:
  int64_t size_;
};

class FileIngest final : public Ingest {
 public:
  FileIngest(const ContentStore& store, Digest want, int64_t expected_size, std::string dir, UniqueFd lock)
      : want_(std::move(want)),
        expected_size_(expected_size),
        dir_(std::move(dir)),
        blob_path_(store.BlobPath(want_)),
        lock_(std::move(lock)) {}

  // Opens the partial data and re-hashes what is already there (the hash
  // state is not saved between processes; re-reading is cheap next to a download).
  Result<void> Init() {
    data_.Reset(::open(DataPath().c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!data_) return FailErrno("open " + DataPath());
    std::vector<char> buf(1 << 20);
    offset_ = 0;
    for (;;) {
      ssize_t n = ::pread(data_.get(), buf.data(), buf.size(), offset_);
      if (n < 0) {
        if (errno == EINTR) continue;
        return FailErrno("read " + DataPath());
      }
      if (n == 0) break;
      hash_.Update(buf.data(), static_cast<size_t>(n));
      offset_ += n;
    }
    // More than the blob's size cannot be a prefix of it.
    if (expected_size_ >= 0 && offset_ > expected_size_) TRY(Reset());
    if (::lseek(data_.get(), offset_, SEEK_SET) < 0) return FailErrno("seek " + DataPath());
    return {};
  }

  bool AlreadyPresent() const override { return false; }
  int64_t Offset() const override { return offset_; }

  Result<void> Write(const void* data, size_t n) override {
    if (committed_) return FailInvalid("blob " + want_.str() + ": write after commit");
    if (expected_size_ >= 0 && offset_ + static_cast<int64_t>(n) > expected_size_) {
      return FailInvalid("blob " + want_.str() + ": more data than the expected " +
                         std::to_string(expected_size_) + " bytes");
    }
    TRY(WriteFully(data_.get(), data, n, DataPath()));
    hash_.Update(data, n);
    offset_ += static_cast<int64_t>(n);
    return {};
  }

  Result<void> Reset() override {
    if (committed_) return FailInvalid("blob " + want_.str() + ": reset after commit");
    if (::ftruncate(data_.get(), 0) != 0) return FailErrno("truncate " + DataPath());
    if (::lseek(data_.get(), 0, SEEK_SET) < 0) return FailErrno("seek " + DataPath());
    hash_.Finish();  // discards the state
    offset_ = 0;
    return {};
  }

  Result<void> Commit() override {
    if (committed_) return {};
    if (expected_size_ >= 0 && offset_ != expected_size_) {
      // Kept: a shorter prefix can still be resumed.
      return FailInvalid("blob " + want_.str() + ": got " + std::to_string(offset_) + " bytes, expected " +
                         std::to_string(expected_size_) + " (truncated download)");
    }
    Digest got = hash_.Finish();
    if (got != want_) {
      // Wrong bytes cannot be resumed from: drop them.
      ::unlink(DataPath().c_str());
      offset_ = 0;
      return Fail(DigestMismatch(want_.str(), got.str()));
    }
    TRY(CommitBlobFile(data_.get(), DataPath(), blob_path_));
    committed_ = true;
    // The ingest is finished: remove its directory while still holding the
    // lock; a waiter sees its lock file unlinked, starts over and finds the blob.
    ::unlink((dir_ + "/lock").c_str());
    ::rmdir(dir_.c_str());
    return {};
  }

 private:
  std::string DataPath() const { return dir_ + "/data"; }

  Digest want_;
  int64_t expected_size_;
  std::string dir_;
  std::string blob_path_;
  UniqueFd lock_;
  UniqueFd data_;
  Sha256 hash_;
  int64_t offset_ = 0;
  bool committed_ = false;
};

Result<void> LockBlocking(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return FailErrno("lock " + path);
  }
  return {};
}

// True when the path still names the file we hold (it was not removed and
// recreated while we waited for the lock).
bool StillLinked(int fd, const std::string& path) {
  struct stat held, named;
  if (::fstat(fd, &held) != 0 || ::lstat(path.c_str(), &named) != 0) return false;
  return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

Result<std::unique_ptr<Ingest>> ContentStore::BeginIngest(const Digest& expected, int64_t expected_size) {
  if (expected.empty()) return FailInvalid("ingest: no digest given");
  const std::string dir = root_ + "/ingest/" + expected.hex();
  const std::string lock_path = dir + "/lock";
  // Retries only when a committer or CleanIngests removed the ingest under us.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (Has(expected)) return std::make_unique<PresentIngest>(TRY(Size(expected)));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return FailErrno("create " + dir);
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!lock) {
      if (errno == ENOENT) continue;
      return FailErrno("open " + lock_path);
    }
    TRY(LockBlocking(lock.get(), lock_path));
    if (!StillLinked(lock.get(), lock_path)) continue;
    if (Has(expected)) {
      // Another writer committed while we waited; nothing of ours to keep.
      ::unlink((dir + "/data").c_str());
      ::unlink(lock_path.c_str());
      ::rmdir(dir.c_str());
      return std::make_unique<PresentIngest>(TRY(Size(expected)));
    }
    auto ingest = std::make_unique<FileIngest>(*this, expected, expected_size, dir, std::move(lock));
    TRY_CTX(ingest->Init(), "ingest " + expected.str());
    return ingest;
  }
  return FailInvalid("ingest " + expected.str() + ": the ingest directory keeps disappearing");
}

}  // namespace moor::image
