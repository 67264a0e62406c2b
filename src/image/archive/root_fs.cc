#include "image/archive/root_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace moor::image {

namespace {

constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

int Openat2Dir(int dirfd, const char* path) {
  struct open_how how = {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = kResolve;
  int fd;
  // EAGAIN: a concurrent rename raced the lookup; the kernel asks to retry.
  for (int tries = 0; tries < 16; ++tries) {
    fd = static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

std::vector<std::string> Components(const std::string& rel) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    if (j > i) parts.push_back(rel.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

}  // namespace

std::string ProcFdPath(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

Result<UniqueFd> OpenDirInRoot(int root_fd, const std::string& rel, bool create) {
  const std::string target = rel.empty() ? "." : rel;
  int fd = Openat2Dir(root_fd, target.c_str());
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT || !create) return FailErrno("open directory \"" + target + "\" inside the root");

  UniqueFd cur(Openat2Dir(root_fd, "."));
  if (!cur) return FailErrno("open the extraction root");
  std::string prefix;
  for (const auto& name : Components(rel)) {
    if (!prefix.empty()) prefix += '/';
    prefix += name;
    // Each prefix resolves again from the root so that symlinks keep their
    // in-root meaning; a missing name is created beside its confined parent.
    int next = Openat2Dir(root_fd, prefix.c_str());
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(cur.get(), name.c_str(), 0755) == 0) {
        // Implicit parents are 0755 whatever the umask, as Docker makes them.
        TRY(ChmodNoFollow(cur.get(), name, 0755));
      } else if (errno != EEXIST) {
        return FailErrno("create directory \"" + prefix + "\" inside the root");
      }
      next = Openat2Dir(root_fd, prefix.c_str());
    }
    if (next < 0 && errno == ENOENT && TRY(KindAt(cur.get(), name)) == S_IFLNK) {
      return Fail(Error(
          ENOENT, "\"" + prefix + "\" is a symlink to a directory that does not exist inside the root"));
    }
    if (next < 0) return FailErrno("open directory \"" + prefix + "\" inside the root");
    cur.Reset(next);
  }
  return cur;
}

Result<mode_t> KindAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return mode_t{0};
    return FailErrno("stat \"" + name + "\"");
  }
  return static_cast<mode_t>(st.st_mode & S_IFMT);
}

Result<void> EmptyDirAt(int dirfd, const std::string& name,
                        const std::function<bool(const std::string&)>& keep) {
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return FailErrno("open directory \"" + name + "\"");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return FailErrno("read directory \"" + name + "\"");
  }
  std::vector<std::string> children;
  while (dirent* e = ::readdir(d)) {
    std::string child = e->d_name;
    if (child == "." || child == "..") continue;
    children.push_back(std::move(child));
  }
  UniqueFd self(::dup(::dirfd(d)));
  ::closedir(d);
  if (!self) return FailErrno("dup directory fd");
  for (const auto& child : children) {
    if (keep && keep(child)) continue;
    TRY_CTX(RemoveTreeAt(self.get(), child), name);
  }
  return {};
}

Result<void> RemoveTreeAt(int dirfd, const std::string& name) {
  mode_t kind = TRY(KindAt(dirfd, name));
  if (kind == 0) return {};
  if (kind == S_IFDIR) {
    TRY(EmptyDirAt(dirfd, name, nullptr));
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return FailErrno("remove directory \"" + name + "\"");
    return {};
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return FailErrno("remove \"" + name + "\"");
  return {};
}

Result<void> ChmodNoFollow(int dirfd, const std::string& name, mode_t mode) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno("open \"" + name + "\" for chmod");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno("stat \"" + name + "\"");
  if (S_ISLNK(st.st_mode)) return {};
  // The magic link names exactly the inode fd holds: nothing is re-resolved.
  if (::chmod(ProcFdPath(fd.get()).c_str(), mode) != 0) return FailErrno("chmod \"" + name + "\"");
  return {};
}

}  // namespace moor::image
