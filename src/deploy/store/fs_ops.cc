#include "deploy/store/fs_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <vector>

namespace moor::deploy::store_detail {
namespace {

Result<void> CopyByReadWrite(int src, int dst, int64_t from, const std::string& what) {
  std::vector<char> buf(1 << 20);
  off_t off = from;
  for (;;) {
    ssize_t n = ::pread(src, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read " + what);
    }
    if (n == 0) return {};
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::pwrite(dst, buf.data() + done, static_cast<size_t>(n - done), off + done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return FailErrno("write " + what);
      }
      done += w;
    }
    off += n;
  }
}

// Removes the entries of the open directory `fd` (which stays).
Result<void> EmptyDir(int fd, dev_t dev, const std::string& path) {
  UniqueFd dup(::dup(fd));
  if (!dup) return FailErrno("dup " + path);
  DIR* dir = ::fdopendir(dup.get());
  if (!dir) return FailErrno("open " + path);
  dup.Release();
  std::vector<std::pair<std::string, bool>> names;
  while (struct dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(std::move(n), e->d_type == DT_DIR || e->d_type == DT_UNKNOWN);
  }
  ::closedir(dir);
  for (auto& [name, maybe_dir] : names) {
    if (maybe_dir) {
      struct stat st;
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return FailErrno("stat " + path + "/" + name);
      }
      if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev) return FailInvalid("remove " + path + "/" + name + ": a mount point is in the way");
        UniqueFd sub = TRY(OpenDirAt(fd, name));
        if (::fchmod(sub.get(), 0700) != 0) return FailErrno("chmod " + path + "/" + name);
        TRY(EmptyDir(sub.get(), dev, path + "/" + name));
        if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
          return FailErrno("remove " + path + "/" + name);
        }
        continue;
      }
    }
    if (::unlinkat(fd, name.c_str(), 0) != 0 && errno != ENOENT) return FailErrno("remove " + path + "/" + name);
  }
  return {};
}

}  // namespace

Result<void> CopyFileData(int src, int dst, const std::string& what) {
  if (::ioctl(dst, FICLONE, src) == 0) return {};
  struct stat st;
  if (::fstat(src, &st) != 0) return FailErrno("stat " + what);
  loff_t in = 0;
  while (in < st.st_size) {
    ssize_t n = ::copy_file_range(src, &in, dst, nullptr, static_cast<size_t>(st.st_size - in), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        if (::ftruncate(dst, in) != 0) return FailErrno("truncate " + what);
        return CopyByReadWrite(src, dst, in, what);
      }
      return FailErrno("copy " + what);
    }
    if (n == 0) break;  // the source shrank: blobs never do, but do not spin
  }
  return {};
}

Result<void> CopyFileAt(int src_dirfd, const std::string& src_name, int dirfd, const std::string& name, unsigned mode) {
  UniqueFd src(::openat(src_dirfd, src_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src) return FailErrno("open " + src_name);
  UniqueFd dst(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!dst) return FailErrno("create " + name);
  TRY(CopyFileData(src.get(), dst.get(), name));
  if (::fchmod(dst.get(), mode) != 0) return FailErrno("chmod " + name);
  return {};
}

Result<void> RemoveTreeAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return FailErrno("stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return FailErrno("remove " + name);
    return {};
  }
  UniqueFd fd = TRY(OpenDirAt(dirfd, name));
  if (::fchmod(fd.get(), 0700) != 0) return FailErrno("chmod " + name);
  TRY(EmptyDir(fd.get(), st.st_dev, name));
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return FailErrno("remove " + name);
  return {};
}

Result<std::vector<std::string>> ListNames(int dirfd, const std::string& what) {
  int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return FailErrno("open " + what);
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    return FailErrno("open " + what);
  }
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(dir);
  return out;
}

Result<UniqueFd> OpenDirAt(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno("open " + name);
  return fd;
}

Result<std::string> ReadFileAt(int dirfd, const std::string& name, int64_t max) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno("open " + name);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno("stat " + name);
  if (st.st_size > max) {
    return FailInvalid(name + " is " + std::to_string(st.st_size) + " bytes, more than the " + std::to_string(max) +
                       " allowed");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read " + name);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

std::string UniqueTempName(const std::string& prefix) {
  static std::atomic<uint64_t> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace moor::deploy::store_detail
