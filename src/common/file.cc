#include "common/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"

namespace moor {

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

static Result<void> WriteAll(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("write " + path);
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> WriteExisting(const std::string& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  return WriteAll(fd.get(), content, path);
}

namespace {
// Temp file + rename; with `durable`, fsync the file before the rename and the
// directory after it.
Result<void> ReplaceFile(const std::string& path, std::string_view content, bool durable) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("create " + tmp);
  auto r = WriteAll(fd.get(), content, tmp);
  if (r && durable && ::fsync(fd.get()) != 0) r = FailErrno("fsync " + tmp);
  if (!r) {
    ::unlink(tmp.c_str());
    return r;
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Error::FromErrno("rename " + tmp);
    ::unlink(tmp.c_str());
    return Fail(std::move(e));
  }
  if (!durable) return {};
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd || ::fsync(dfd.get()) != 0) return FailErrno("fsync directory of " + path);
  return {};
}
}  // namespace

Result<void> WriteFileAtomic(const std::string& path, std::string_view content) {
  return ReplaceFile(path, content, false);
}

Result<void> WriteFileDurable(const std::string& path, std::string_view content) {
  return ReplaceFile(path, content, true);
}

Result<void> MkdirAll(const std::string& path, unsigned mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    pos = next;
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return FailErrno("mkdir " + cur);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return FailErrno("stat " + path);
  if (!S_ISDIR(st.st_mode)) return Fail(Error(ENOTDIR, path + " exists and is not a directory"));
  return {};
}

static Result<void> RemoveAt(int dirfd, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return FailErrno(std::string("stat ") + name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Fail(Error(EBUSY, std::string("refusing to remove mount point ") + name));
    // Owner rwx first (read-only dirs in image layers): unlinking children
    // needs write and search permission on the dir, even for root without
    // CAP_DAC_OVERRIDE in a user namespace.
    if ((st.st_mode & 0700) != 0700 && ::fchmodat(dirfd, name, (st.st_mode & 07777) | 0700, 0) != 0)
      return FailErrno(std::string("chmod ") + name);
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return FailErrno(std::string("open ") + name);
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return FailErrno(std::string("opendir ") + name);
    }
    Result<void> r;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      r = RemoveAt(::dirfd(d), e->d_name, dev);
      if (!r) break;
    }
    ::closedir(d);
    if (!r) return r;
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return FailErrno(std::string("rmdir ") + name);
    return {};
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return FailErrno(std::string("unlink ") + name);
  return {};
}

Result<void> RemoveAll(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return FailErrno("stat " + path);
  }
  auto r = RemoveAt(AT_FDCWD, path.c_str(), st.st_dev);
  if (!r) return Fail(std::move(r.error()).Wrap("remove " + path));
  return {};
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace moor
