#include "runtime/seccomp/default_profile.h"

#include <cerrno>
#include <span>
#include <set>
#include <string_view>

namespace moor::runtime::seccomp {
namespace {

// clang-format off
// Syscalls every container may make. Grouped by topic; names that do not
// exist on an architecture (or are unknown to libseccomp) are skipped by Compile.
constexpr std::string_view kFiles[] = {
    "open", "openat", "openat2", "creat", "close", "close_range", "read", "readv", "pread64",
    "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek",
    "dup", "dup2", "dup3", "fcntl", "fcntl64", "ioctl", "flock", "fsync", "fdatasync", "sync",
    "syncfs", "sync_file_range", "sync_file_range2", "arm_sync_file_range", "truncate",
    "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64",
    "arm_fadvise64_64", "readahead", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
    "copy_file_range", "pipe", "pipe2",
};
constexpr std::string_view kMetadata[] = {
    "stat", "stat64", "fstat", "fstat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx",
    "statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat", "faccessat2", "readlink",
    "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "chmod", "fchmod",
    "fchmodat", "fchmodat2", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown",
    "lchown32", "umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat", "mkdir",
    "mkdirat", "mknod", "mknodat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat",
    "symlink", "symlinkat", "unlink", "unlinkat", "getxattr", "lgetxattr", "fgetxattr",
    "getxattrat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "listxattr", "llistxattr",
    "flistxattr", "listxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
};
constexpr std::string_view kMemory[] = {
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc",
    "pkey_free", "madvise", "mincore", "msync", "mlock", "mlock2", "munlock", "mlockall",
    "munlockall", "remap_file_pages", "membarrier", "memfd_create", "memfd_secret",
    "process_madvise", "process_mrelease", "map_shadow_stack", "mseal", "cachestat",
};
constexpr std::string_view kProcesses[] = {
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "prctl", "arch_prctl",
    "set_thread_area", "get_thread_area", "modify_ldt", "set_tls", "cacheflush", "breakpoint",
    "capget", "capset", "getpriority", "setpriority", "sched_yield", "sched_getaffinity",
    "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_getattr", "sched_setattr",
    "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times", "ioprio_get",
    "ioprio_set", "pidfd_open", "pidfd_send_signal", "seccomp", "restart_syscall",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "uname", "olduname",
    "oldolduname", "sysinfo", "getrandom", "getcpu",
};
constexpr std::string_view kIdentity[] = {
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
    "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid",
    "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
    "setresuid", "setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32", "setfsuid",
    "setfsuid32", "setfsgid", "setfsgid32",
};
constexpr std::string_view kSignals[] = {
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "sigaction", "sigprocmask", "sigreturn", "sigsuspend", "sigpending", "signal", "sigaltstack",
    "signalfd", "signalfd4", "kill", "tkill", "tgkill", "pause", "alarm",
};
constexpr std::string_view kTime[] = {
    "nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_gettime", "clock_gettime64",
    "clock_getres", "clock_getres_time64", "gettimeofday", "time", "adjtimex", "getitimer",
    "setitimer", "timer_create", "timer_delete", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timer_getoverrun", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64",
};
constexpr std::string_view kWaiting[] = {
    "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "futex", "futex_time64", "futex_waitv",
    "futex_wait", "futex_wake", "futex_requeue", "io_setup", "io_destroy", "io_submit",
    "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
};
constexpr std::string_view kNetworkAndIpc[] = {
    "socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom", "send", "recv", "sendmsg",
    "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown", "socketcall", "msgget",
    "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
    "shmget", "shmat", "shmdt", "shmctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64", "mq_notify",
    "mq_getsetattr",
};

// Syscalls unlocked by a capability (the kernel checks the same capability).
constexpr std::string_view kSysAdmin[] = {
    "mount", "umount", "umount2", "unshare", "setns", "pivot_root", "sethostname", "setdomainname",
    "quotactl", "quotactl_fd", "lookup_dcookie", "fanotify_init", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr", "vm86", "vm86old", "bpf",
    "perf_event_open", "clone3",
};
constexpr std::string_view kSysPtrace[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "userfaultfd",
};
constexpr std::string_view kSysModule[] = {
    "init_module", "finit_module", "delete_module",
};
constexpr std::string_view kSysBoot[] = {
    "reboot", "kexec_load", "kexec_file_load",
};
constexpr std::string_view kSysTime[] = {
    "settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
    "clock_adjtime64",
};
constexpr std::string_view kSysRawio[] = {
    "iopl", "ioperm",
};
constexpr std::string_view kSysPacct[] = {
    "acct",
};
constexpr std::string_view kSysTtyConfig[] = {
    "vhangup",
};
constexpr std::string_view kSysNice[] = {
    "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind", "migrate_pages",
    "move_pages",
};
constexpr std::string_view kSysChroot[] = {
    "chroot",
};
constexpr std::string_view kSyslog[] = {
    "syslog",
};
constexpr std::string_view kDacReadSearch[] = {
    "open_by_handle_at", "name_to_handle_at",
};
constexpr std::string_view kBpf[] = {
    "bpf",
};
constexpr std::string_view kPerfmon[] = {
    "perf_event_open",
};
// clang-format on

constexpr std::span<const std::string_view> kForEveryone[] = {
    kFiles, kMetadata, kMemory, kProcesses, kIdentity, kSignals, kTime, kWaiting, kNetworkAndIpc,
};

struct CapGroup {
  std::string_view capability;
  std::span<const std::string_view> syscalls;
};

constexpr CapGroup kCapGroups[] = {
    {"CAP_SYS_ADMIN", kSysAdmin},
    {"CAP_SYS_PTRACE", kSysPtrace},
    {"CAP_SYS_MODULE", kSysModule},
    {"CAP_SYS_BOOT", kSysBoot},
    {"CAP_SYS_TIME", kSysTime},
    {"CAP_SYS_RAWIO", kSysRawio},
    {"CAP_SYS_PACCT", kSysPacct},
    {"CAP_SYS_TTY_CONFIG", kSysTtyConfig},
    {"CAP_SYS_NICE", kSysNice},
    {"CAP_SYS_CHROOT", kSysChroot},
    {"CAP_SYSLOG", kSyslog},
    {"CAP_DAC_READ_SEARCH", kDacReadSearch},
    {"CAP_BPF", kBpf},
    {"CAP_PERFMON", kPerfmon},
};

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
// CLONE_NEWPID | CLONE_NEWNET (CLONE_NEWTIME shares its bit with CSIGNAL in
// clone's flags and can only be asked for through clone3 or unshare).
constexpr uint64_t kCloneNamespaceFlags =
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

// personality(2) values that change nothing security-relevant: PER_LINUX,
// PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and 0xffffffff (query only).
constexpr uint64_t kPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

std::vector<std::string> Architectures() {
#if defined(__x86_64__) || defined(__i386__)
  return {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#elif defined(__aarch64__) || defined(__arm__)
  return {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
#else
  return {};  // native architecture only
#endif
}

oci::SeccompSyscall Allow(std::vector<std::string> names) {
  oci::SeccompSyscall sc;
  sc.names = std::move(names);
  sc.action = "SCMP_ACT_ALLOW";
  return sc;
}

}  // namespace

oci::Seccomp DefaultProfile(const std::vector<std::string>& capabilities) {
  std::set<std::string_view> granted(capabilities.begin(), capabilities.end());
  auto has = [&](std::string_view cap) { return granted.count(cap) > 0; };

  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.default_errno_ret = EPERM;
  p.architectures = Architectures();

  // Ordered and de-duplicated, so a syscall unlocked twice gets one rule.
  std::set<std::string_view> allowed;
  for (std::span<const std::string_view> group : kForEveryone)
    allowed.insert(group.begin(), group.end());
  for (const CapGroup& g : kCapGroups)
    if (has(g.capability)) allowed.insert(g.syscalls.begin(), g.syscalls.end());
  p.syscalls.push_back(Allow({allowed.begin(), allowed.end()}));

  if (has("CAP_SYS_ADMIN")) {
    p.syscalls.push_back(Allow({"clone"}));  // clone3 is in the CAP_SYS_ADMIN group
  } else {
    oci::SeccompSyscall clone = Allow({"clone"});
    clone.args.push_back(
        {.index = 0, .value = kCloneNamespaceFlags, .value_two = 0, .op = "SCMP_CMP_MASKED_EQ"});
    p.syscalls.push_back(std::move(clone));

    oci::SeccompSyscall clone3;
    clone3.names = {"clone3"};
    clone3.action = "SCMP_ACT_ERRNO";
    clone3.errno_ret = ENOSYS;
    p.syscalls.push_back(std::move(clone3));
  }

  for (uint64_t persona : kPersonalities) {
    oci::SeccompSyscall sc = Allow({"personality"});
    sc.args.push_back({.index = 0, .value = persona, .value_two = 0, .op = "SCMP_CMP_EQ"});
    p.syscalls.push_back(std::move(sc));
  }
  return p;
}

}  // namespace moor::runtime::seccomp
