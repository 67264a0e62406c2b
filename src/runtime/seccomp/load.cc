#include "runtime/seccomp/load.h"

#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <string>

namespace moor::runtime::seccomp {

Result<void> Load(const Program& prog) {
  if (prog.filter.empty()) return FailInvalid("load seccomp filter: the program is empty");
  if (prog.filter.size() > std::numeric_limits<unsigned short>::max())
    return FailInvalid("load seccomp filter: the program is too long");
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(prog.filter.size());
  fprog.filter = const_cast<sock_filter*>(prog.filter.data());  // the kernel only reads it

  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog.flags, &fprog);
  if (rc < 0 && errno == ENOSYS && prog.flags == 0)
    rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
  if (rc == 0) return {};
  if (rc > 0)  // TSYNC: a thread could not be synchronised; rc is its id
    return Fail(Error(EBUSY, "load seccomp filter: thread " + std::to_string(rc) +
                                 " could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC)"));
  int err = errno;
  switch (err) {
    case EACCES:
      return Fail(Error::FromErrno(err,
                                   "load seccomp filter (set no_new_privileges, or load it "
                                   "while CAP_SYS_ADMIN is still effective)"));
    case EINVAL:
      return Fail(Error::FromErrno(err,
                                   "load seccomp filter (a flag in linux.seccomp.flags may "
                                   "be unsupported by this kernel)"));
    default:
      return Fail(Error::FromErrno(err, "load seccomp filter"));
  }
}

}  // namespace moor::runtime::seccomp
