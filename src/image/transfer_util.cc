#include "image/transfer_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "common/file.h"
#include "image/archive/extract.h"

namespace moor::image::transfer {

std::string ArchiveErrorText(archive* a) {
  const char* s = a ? archive_error_string(a) : nullptr;
  return s ? s : "unknown error";
}

Result<UniqueFd> OpenScratchFile(const ContentStore& store) {
  std::string dir = store.root() + "/tmp";
  TRY(MkdirAll(dir, 0700));
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  // Filesystems without O_TMPFILE: a named file, unlinked at once.
  std::string path = dir + "/transfer-XXXXXX";
  fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return FailErrno("create a scratch file in " + dir);
  unlink(path.c_str());
  return UniqueFd(fd);
}

Result<void> WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return FailErrno("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

Result<Compression> BlobCompression(const ContentStore& store, const Digest& d) {
  UniqueFd fd = TRY(store.Open(d));
  unsigned char head[8] = {};
  ssize_t n;
  do {
    n = pread(fd.get(), head, sizeof head, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("read blob " + d.str());
  return DetectCompression(head, static_cast<size_t>(n));
}

std::string NowRfc3339() {
  time_t now = time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

}  // namespace moor::image::transfer
