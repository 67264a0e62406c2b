// moor's default seccomp profile: what Docker users expect from a container.
//
// - Unmatched syscalls fail with EPERM (SCMP_ACT_ERRNO).
// - An allowlist of the syscalls ordinary Linux programs make (files, memory,
//   processes and threads, signals, time, sockets, SysV/POSIX IPC, AIO …).
// - clone is allowed only when its flags carry none of the CLONE_NEW*
//   namespace bits; clone3 returns ENOSYS so libcs fall back to clone (its
//   flags live in memory that seccomp cannot inspect).
// - personality only with the harmless personas (Linux, Linux32, UNAME26, query).
// - Syscalls that reach outside the container — mount, unshare, setns, bpf,
//   perf_event_open, ptrace, module loading, kexec, reboot, clock setting,
//   open_by_handle_at, userfaultfd … — are allowed only when the capability
//   that the kernel would check anyway is granted (CAP_SYS_ADMIN → mount,
//   umount2, unshare, setns, unrestricted clone/clone3 …; CAP_SYS_PTRACE →
//   ptrace, process_vm_*, kcmp …), as Docker does.
// - Never allowed, whatever the capabilities: the kernel keyring (keyctl,
//   add_key, request_key: not namespaced), io_uring_* (bypasses seccomp),
//   swapon/swapoff, and obsolete syscalls (uselib, _sysctl, ustat …).
// - Architectures: the host's family (x86_64 + x86 + x32 on amd64 hosts,
//   aarch64 + arm on arm64 hosts; native only elsewhere).
#pragma once

#include <string>
#include <vector>

#include "oci/spec.h"

namespace moor::runtime::seccomp {

// `capabilities`: names ("CAP_SYS_ADMIN") of the capabilities the container
// process may hold — pass its bounding set. Unknown names are ignored.
oci::Seccomp DefaultProfile(const std::vector<std::string>& capabilities);

}  // namespace moor::runtime::seccomp
