// Switching the container process to its configured user, keeping the
// capabilities the config grants. Child side: syscalls only — no user or
// group lookups (the uid/gid are numbers already, and reading the container's
// /etc after pivot_root is what CVE-2019-14271 exploited).
#pragma once

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/process/capabilities.h"

namespace moor::runtime::process {

struct SwitchUserOptions {
  // False when the runtime wrote "deny" to /proc/PID/setgroups (rootless user
  // namespace): setgroups(2) is then skipped, and additional gids are an error.
  bool setgroups_allowed = true;
};

// setgroups(additionalGids) (an empty list clears the supplementary groups),
// setresgid(gid), setresuid(uid) — with PR_SET_KEEPCAPS on around them so the
// permitted capability set survives leaving uid 0 (the effective set is
// cleared by the kernel; ApplyCapSets restores it) — then umask when given.
// REQUIRES: CAP_SETGID and CAP_SETUID effective; uid and gid mapped in the
// process's user namespace.
Result<void> SwitchUser(const oci::User& user, const SwitchUserOptions& options = {});

// The whole credential change of the container process, in the only order
// that works (see capabilities.h): DropBoundingSet(sets.bounding, last_cap),
// SwitchUser(user), ApplyCapSets(sets). `sets` should already be clamped to
// the kernel (ClampToKernel) and `last_cap` read in the parent (ReadLastCap).
// Seccomp, when loaded before this, must allow prctl, setgroups, setresgid,
// setresuid and capset.
Result<void> ApplyCredentials(const oci::User& user, const CapSets& sets, int last_cap,
                              const SwitchUserOptions& options = {});

}  // namespace moor::runtime::process
