#include "image/store/blob_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"

namespace moor::image::store_detail {

Result<void> WriteFully(int fd, const void* data, size_t n, std::string_view what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return FailErrno("write " + std::string(what));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

Result<void> FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + dir);
  if (::fsync(fd.get()) != 0) return FailErrno("fsync " + dir);
  return {};
}

Result<void> CommitBlobFile(int fd, const std::string& from, const std::string& to) {
  if (::fsync(fd) != 0) return FailErrno("fsync " + from);
  if (::fchmod(fd, 0444) != 0) return FailErrno("chmod " + from);
  if (::rename(from.c_str(), to.c_str()) != 0) return FailErrno("rename " + from + " to " + to);
  return FsyncDir(to.substr(0, to.rfind('/')));
}

Error DigestMismatch(std::string_view want, std::string_view got) {
  return Error::Invalid("blob " + std::string(want) + ": content has digest " + std::string(got) +
                        " (corrupt or truncated download)");
}

}  // namespace moor::image::store_detail
