// Content operations shared by the ReleaseStore's files: presence, tree reads,
// exec copies.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/store/fs_ops.h"
#include "deploy/store/store_impl.h"
#include "deploy/tree/tree.h"

namespace moor::deploy::store_detail {

int64_t BlobSizeAt(int blobs_fd, const image::Digest& d) {
  if (d.empty()) return -1;
  struct stat st;
  if (::fstatat(blobs_fd, d.hex().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

Result<std::string> ReadTreeAt(int blobs_fd, const image::Digest& d) {
  if (d.empty()) return FailInvalid("read tree: no digest given");
  auto bytes = ReadFileAt(blobs_fd, d.hex(), kMaxTreeBytes);
  if (!bytes) {
    if (bytes.error().errnum() == ENOENT) return Fail(Error(ENOENT, "missing tree " + d.str()));
    return Fail(std::move(bytes.error()).Wrap("tree " + d.str()));
  }
  image::Digest got = image::Sha256Of(*bytes);
  if (got != d) {
    return Fail(Error(EIO, "tree " + d.str() + " is corrupt on disk (content has digest " + got.str() + ")"));
  }
  return bytes;
}

Result<bool> EnsureExecCopy(int blobs_fd, int exec_fd, const image::Digest& d) {
  struct stat st;
  if (::fstatat(exec_fd, d.hex().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return false;
  UniqueFd src(::openat(blobs_fd, d.hex().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src) {
    if (errno == ENOENT) return Fail(Error(ENOENT, "missing blob " + d.str()));
    return FailErrno("open blob " + d.str());
  }
  // A temp name, renamed when complete: concurrent makers of the same copy
  // rename equal bytes over each other.
  const std::string tmp = UniqueTempName(".tmp-" + d.hex());
  UniqueFd dst(::openat(exec_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!dst) return FailErrno("create exec copy of " + d.str());
  Result<void> r = [&]() -> Result<void> {
    TRY(CopyFileData(src.get(), dst.get(), "exec copy of " + d.str()));
    if (::fchmod(dst.get(), 0555) != 0) return FailErrno("chmod exec copy of " + d.str());
    if (::renameat(exec_fd, tmp.c_str(), exec_fd, d.hex().c_str()) != 0) {
      return FailErrno("rename exec copy of " + d.str());
    }
    return {};
  }();
  if (!r) {
    ::unlinkat(exec_fd, tmp.c_str(), 0);
    return Fail(std::move(r.error()));
  }
  return true;
}

}  // namespace moor::deploy::store_detail
