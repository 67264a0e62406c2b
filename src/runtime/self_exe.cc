#include "runtime/self_exe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fd.h"

namespace moor::runtime {
namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

bool SelfIsSealed() {
  UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return true;
  struct statvfs vfs;
  return ::fstatvfs(fd.get(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

Result<void> EnsureSealedSelf(char** argv, char** envp) {
  if (SelfIsSealed()) return {};
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return FailErrno("open /proc/self/exe");
  struct stat st;
  if (::fstat(self.get(), &st) != 0) return FailErrno("stat /proc/self/exe");
  UniqueFd mem(::memfd_create("moor-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return FailErrno("memfd_create");
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(mem.get(), self.get(), nullptr, static_cast<size_t>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("copy runtime binary to memfd");
    }
    if (n == 0) return Fail(Error(EIO, "copy runtime binary to memfd: short copy"));
    left -= n;
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, kSeals) != 0) return FailErrno("seal runtime memfd");
  ::syscall(SYS_execveat, mem.get(), "", argv, envp, AT_EMPTY_PATH);
  return FailErrno("re-exec runtime from sealed memfd");
}

}  // namespace moor::runtime
