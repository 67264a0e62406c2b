#include "runtime/process/user.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace moor::runtime::process {
namespace {

std::string MappingHint(int err) {
  return err == EINVAL ? " (is it mapped in the container's user namespace?)" : "";
}

}  // namespace

Result<void> SwitchUser(const oci::User& user, const SwitchUserOptions& options) {
  if (options.setgroups_allowed) {
    std::vector<gid_t> gids(user.additional_gids.begin(), user.additional_gids.end());
    if (setgroups(gids.size(), gids.data()) != 0)
      return FailErrno("setgroups (process.user.additionalGids)" + MappingHint(errno));
  } else if (!user.additional_gids.empty()) {
    return FailInvalid(
        "process.user.additionalGids: cannot be set in a user namespace where setgroups is "
        "denied (rootless); remove them or map the groups");
  }

  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return FailErrno("prctl(PR_SET_KEEPCAPS, 1)");
  if (setresgid(user.gid, user.gid, user.gid) != 0) {
    int err = errno;
    return Fail(
        Error::FromErrno(err, "setresgid(" + std::to_string(user.gid) + ")" + MappingHint(err)));
  }
  if (setresuid(user.uid, user.uid, user.uid) != 0) {
    int err = errno;
    return Fail(
        Error::FromErrno(err, "setresuid(" + std::to_string(user.uid) + ")" + MappingHint(err)));
  }
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return FailErrno("prctl(PR_SET_KEEPCAPS, 0)");

  if (user.umask) umask(static_cast<mode_t>(*user.umask & 0777));
  return {};
}

Result<void> ApplyCredentials(const oci::User& user, const CapSets& sets, int last_cap,
                              const SwitchUserOptions& options) {
  TRY(DropBoundingSet(sets.bounding, last_cap));
  TRY(SwitchUser(user, options));
  TRY(ApplyCapSets(sets));
  return {};
}

}  // namespace moor::runtime::process
