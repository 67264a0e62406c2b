// The ENOSYS prologue: makes syscalls newer than a profile fail with ENOSYS
// instead of the profile's default action.
//
// Why: a profile written before a syscall existed does not list it, so the
// default action (usually EPERM) hits it. libcs probe new syscalls and fall
// back only on ENOSYS ("the kernel lacks it"), so EPERM breaks programs in
// containers whose libc is newer than the profile. runc solves this by
// prepending a check; moor does the same, with its own generator:
// for each architecture in the filter, a syscall number above the largest one
// the profile names for that architecture returns ENOSYS; everything else
// falls through to libseccomp's program unchanged.
// Known limit (shared with runc): a syscall added out of order in the kernel's
// table, below the profile's largest number, still gets the default action.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "common/error.h"

namespace moor::runtime::seccomp {

struct ArchLimit {
  uint32_t audit_arch = 0;  // AUDIT_ARCH_* as the kernel reports it in seccomp_data.arch
  bool x32 = false;         // the x32 ABI of AUDIT_ARCH_X86_64 (syscall numbers with bit 30)
  uint32_t max_nr = 0;      // largest syscall number the profile names (x32: with bit 30)
};

// Pure. BPF instructions to put in front of a libseccomp program; they end by
// falling through to the instruction after them. Empty when `limits` is.
// At most one entry per (audit_arch, x32) pair.
Result<std::vector<sock_filter>> BuildEnosysStub(const std::vector<ArchLimit>& limits);

}  // namespace moor::runtime::seccomp
