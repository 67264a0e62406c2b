#include "runtime/in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/strings.h"

namespace moor::runtime {
namespace {

int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how = {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

uint64_t ResolveFlags(const InRootOptions& o) {
  uint64_t r = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  if (o.no_symlinks) r |= RESOLVE_NO_SYMLINKS;
  return r;
}

}  // namespace

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<UniqueFd> OpenInRoot(int root_fd, const std::string& path, InRootOptions opts) {
  const size_t skip = path.find_first_not_of('/');
  const std::string rel = skip == std::string::npos ? std::string(1, '.') : path.substr(skip);
  const uint64_t resolve = ResolveFlags(opts);
  int fd = Openat2(root_fd, rel.c_str(), O_PATH | O_CLOEXEC, resolve);
  if (fd >= 0) return UniqueFd(fd);
  if (errno == ELOOP && opts.no_symlinks)
    return Fail(Error(ELOOP, "\"" + path + "\" goes through a symlink inside the rootfs; refusing to mount there"));
  if (errno != ENOENT || opts.create == CreateAs::kNothing) return FailErrno("open \"" + path + "\" in rootfs");

  // Create the missing components one at a time: each prefix is resolved
  // again from the root (so symlinks keep their in-root meaning) and the
  // missing name is created relative to the fd of its confined parent.
  std::vector<std::string> parts;
  for (auto& p : Split(rel, '/'))
    if (!p.empty() && p != ".") parts.push_back(p);
  UniqueFd cur(Openat2(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, resolve));
  if (!cur) return FailErrno("open rootfs");
  std::string prefix;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& name = parts[i];
    if (name == "..") return FailInvalid("\"" + path + "\" contains \"..\"");
    if (!prefix.empty()) prefix += '/';
    prefix += name;
    bool last = i + 1 == parts.size();
    int next = Openat2(root_fd, prefix.c_str(), O_PATH | O_CLOEXEC, resolve);
    if (next < 0 && errno == ENOENT) {
      if (last && opts.create == CreateAs::kFile) {
        int f = ::openat(cur.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f < 0 && errno != EEXIST) return FailErrno("create \"" + path + "\" in rootfs");
        if (f >= 0) ::close(f);
      } else if (::mkdirat(cur.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return FailErrno("mkdir \"" + path + "\" in rootfs");
      }
      next = Openat2(root_fd, prefix.c_str(), O_PATH | O_CLOEXEC, resolve);
    }
    if (next < 0) return FailErrno("open \"" + path + "\" in rootfs");
    cur.Reset(next);
  }
  return cur;
}

}  // namespace moor::runtime
