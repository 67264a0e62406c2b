#include "runtime/self_exe.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "common/fd.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::runtime {
namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
constexpr const char* kCopyPrefix = "moor-runtime-";

bool IsReadonlyFile(const std::string& path) {
  struct statvfs vfs;
  return ::statvfs(path.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

Result<void> CopyAll(int from, int to, off_t size) {
  off_t left = size;
  while (left > 0) {
    ssize_t n = ::sendfile(to, from, nullptr, static_cast<size_t>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("copy runtime binary");
    }
    if (n == 0) return Fail(Error(EIO, "copy runtime binary: short copy"));
    left -= n;
  }
  return {};
}

// Unmounts and removes copies of other versions of the binary.
void RemoveStaleCopies(const std::string& dir, const std::string& keep) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!StartsWith(name, kCopyPrefix) || dir + "/" + name == keep) continue;
    std::string path = dir + "/" + name;
    while (::umount2(path.c_str(), MNT_DETACH) == 0) {
    }
    ::unlink(path.c_str());
  }
  ::closedir(d);
}

// A read-only bind-mounted copy of this exact binary (same device, inode,
// size and mtime) in `cache_dir`, made on first use and kept until the binary
// changes. Executing from it costs one execve, not a copy of the binary.
Result<std::string> ReadonlyCopy(int self, const struct stat& st, const std::string& cache_dir) {
  char key[128];
  snprintf(key, sizeof key, "%s%lx-%lu-%ld-%ld.%09ld", kCopyPrefix, static_cast<unsigned long>(st.st_dev),
           static_cast<unsigned long>(st.st_ino), static_cast<long>(st.st_size), static_cast<long>(st.st_mtim.tv_sec),
           st.st_mtim.tv_nsec);
  std::string path = cache_dir + "/" + key;
  if (IsReadonlyFile(path)) return path;
  TRY(MkdirAll(cache_dir, 0700));
  if (!PathExists(path)) {
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500));
    if (!out) return FailErrno("create " + tmp);
    auto r = CopyAll(self, out.get(), st.st_size);
    out.Reset();
    if (!r || ::rename(tmp.c_str(), path.c_str()) != 0) {
      ::unlink(tmp.c_str());
      if (!r) return Fail(std::move(r.error()));
      return FailErrno("rename " + tmp);
    }
    RemoveStaleCopies(cache_dir, path);
  }
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) return FailErrno("bind " + path);
  if (::mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    ::umount2(path.c_str(), MNT_DETACH);
    return FailErrno("make " + path + " read-only");
  }
  return path;
}

}  // namespace

bool SelfIsSealed() {
  UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return true;
  struct statvfs vfs;
  return ::fstatvfs(fd.get(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

Result<void> EnsureSealedSelf(char** argv, char** envp, const std::string& cache_dir) {
  if (SelfIsSealed()) return {};
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return FailErrno("open /proc/self/exe");
  struct stat st;
  if (::fstat(self.get(), &st) != 0) return FailErrno("stat /proc/self/exe");
  if (!cache_dir.empty()) {
    if (auto copy = ReadonlyCopy(self.get(), st, cache_dir)) {
      ::execve(copy->c_str(), argv, envp);
      // Fall through to the memfd copy.
    }
  }
  UniqueFd mem(::memfd_create("moor-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return FailErrno("memfd_create");
  TRY(CopyAll(self.get(), mem.get(), st.st_size));
  if (::fcntl(mem.get(), F_ADD_SEALS, kSeals) != 0) return FailErrno("seal runtime memfd");
  ::syscall(SYS_execveat, mem.get(), "", argv, envp, AT_EMPTY_PATH);
  return FailErrno("re-exec runtime from sealed memfd");
}

}  // namespace moor::runtime
