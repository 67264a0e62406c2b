// The default profile: its shape (pure) and what it really allows and blocks,
// checked in forked children against the same calls without a filter.
#include "runtime/seccomp/default_profile.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "oci/capability_names.h"
#include "runtime/seccomp/compile.h"
#include "runtime/seccomp/test_child.h"

namespace moor::runtime::seccomp {
namespace {

using testing::ChildExit;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunFiltered;
using testing::RunInChild;
using testing::Say;

std::vector<std::string> DockerCaps() {
  std::vector<std::string> caps;
  for (auto c : oci::DefaultCapabilities()) caps.emplace_back(c);
  return caps;
}

std::vector<std::string> AllCaps() {
  std::vector<std::string> caps;
  for (int i = 0; i <= oci::LastKnownCapability(); ++i) caps.emplace_back(oci::CapabilityName(i));
  return caps;
}

// Names allowed unconditionally (rules with action ALLOW and no condition).
std::vector<std::string> Allowed(const oci::Seccomp& p) {
  std::vector<std::string> out;
  for (const auto& sc : p.syscalls)
    if (sc.action == "SCMP_ACT_ALLOW" && sc.args.empty())
      out.insert(out.end(), sc.names.begin(), sc.names.end());
  return out;
}

const oci::SeccompSyscall* RuleFor(const oci::Seccomp& p, std::string_view name) {
  for (const auto& sc : p.syscalls)
    if (std::find(sc.names.begin(), sc.names.end(), name) != sc.names.end()) return &sc;
  return nullptr;
}

// ---- shape ------------------------------------------------------------------

TEST(SeccompDefaultProfile, DeniesWithEpermByDefault) {
  auto p = DefaultProfile(DockerCaps());
  EXPECT_EQ(p.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(p.default_errno_ret, EPERM);
#if defined(__x86_64__)
  EXPECT_EQ(p.architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
#endif
}

TEST(SeccompDefaultProfile, PrivilegedSyscallsNeedTheirCapability) {
  auto plain = Allowed(DefaultProfile(DockerCaps()));
  for (const char* name :
       {"mount", "umount2", "unshare", "setns", "pivot_root", "bpf", "perf_event_open", "ptrace",
        "init_module", "finit_module", "delete_module", "kexec_load", "reboot", "open_by_handle_at",
        "userfaultfd", "clock_settime", "syslog", "clone3", "clone"})
    EXPECT_THAT(plain, Not(Contains(name)));
  for (const char* name : {"read", "write", "execve", "openat", "mmap", "futex", "exit_group",
                           "socket", "chroot", "setuid", "capset", "rt_sigreturn"})
    EXPECT_THAT(plain, Contains(name));

  auto admin = Allowed(DefaultProfile({"CAP_SYS_ADMIN"}));
  for (const char* name : {"mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf"})
    EXPECT_THAT(admin, Contains(name));
  EXPECT_THAT(admin, Not(Contains("ptrace")));
  EXPECT_THAT(Allowed(DefaultProfile({"CAP_SYS_PTRACE"})), Contains("ptrace"));
  EXPECT_THAT(Allowed(DefaultProfile({"CAP_SYS_MODULE"})), Contains("finit_module"));
  EXPECT_THAT(Allowed(DefaultProfile({"CAP_BPF"})), Contains("bpf"));
}

TEST(SeccompDefaultProfile, KeyringIoUringAndSwapNeverAllowed) {
  auto all = Allowed(DefaultProfile(AllCaps()));
  for (const char* name : {"keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
                           "io_uring_register", "swapon", "swapoff", "uselib"})
    EXPECT_THAT(all, Not(Contains(name)));
}

TEST(SeccompDefaultProfile, CloneOnlyWithoutNamespaceFlagsAndClone3Enosys) {
  auto p = DefaultProfile(DockerCaps());
  const auto* clone = RuleFor(p, "clone");
  ASSERT_NE(clone, nullptr);
  ASSERT_EQ(clone->args.size(), 1u);
  EXPECT_EQ(clone->args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone->args[0].index, 0u);
  EXPECT_EQ(clone->args[0].value, 0x7E020000u);  // all CLONE_NEW* bits clone() takes
  EXPECT_EQ(clone->args[0].value_two, 0u);
  const auto* clone3 = RuleFor(p, "clone3");
  ASSERT_NE(clone3, nullptr);
  EXPECT_EQ(clone3->action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3->errno_ret, ENOSYS);
}

TEST(SeccompDefaultProfile, CompilesWellUnderTheKernelLimit) {
  for (const auto& caps : {DockerCaps(), AllCaps(), std::vector<std::string>{}}) {
    auto prog = Compile(DefaultProfile(caps));
    ASSERT_TRUE(prog) << prog.error().message();
    EXPECT_LT(prog->filter.size(), 4096u);
  }
}

// ---- behaviour ----------------------------------------------------------------

constexpr uint64_t kBogus = 0x7fff1234;

long CloneAndReap(unsigned long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  int status;
  waitpid(static_cast<pid_t>(pid), &status, 0);
  return 0;
}

struct Probe {
  const char* name;
  long (*call)();
};

// Calls the default profile must refuse. Arguments are chosen so that, without
// a filter, the kernel answers with something other than EPERM (as root).
const Probe kBlocked[] = {
    {"unshare(CLONE_NEWUSER)", [] { return static_cast<long>(unshare(CLONE_NEWUSER)); }},
    {"mount",
     [] { return static_cast<long>(mount("none", "/moor-nonexistent", "tmpfs", 0, nullptr)); }},
    {"umount2", [] { return static_cast<long>(umount2("/moor-nonexistent", 0)); }},
    {"setns", [] { return static_cast<long>(setns(-1, 0)); }},
    {"pivot_root",
     [] { return syscall(SYS_pivot_root, "/moor-nonexistent", "/moor-nonexistent"); }},
    {"keyctl", [] { return syscall(SYS_keyctl, kBogus, 0, 0, 0, 0); }},
    {"add_key", [] { return syscall(SYS_add_key, "moor-no-type", "d", nullptr, 0, -1); }},
    {"request_key", [] { return syscall(SYS_request_key, "moor-no-type", "d", nullptr, 0); }},
    {"bpf", [] { return syscall(SYS_bpf, kBogus, nullptr, 0); }},
    {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
    {"ptrace", [] { return syscall(SYS_ptrace, 3 /* PTRACE_PEEKUSER */, 0x7ffffff0, 0, 0); }},
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, kBogus); }},
    {"delete_module", [] { return syscall(SYS_delete_module, "moor_no_such_module", O_NONBLOCK); }},
    {"reboot", [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }},
    {"clock_settime", [] { return syscall(SYS_clock_settime, -1, nullptr); }},
    {"syslog", [] { return syscall(SYS_syslog, 9999, nullptr, 0); }},
    {"open_by_handle_at", [] { return syscall(SYS_open_by_handle_at, -1, nullptr, 0); }},
    {"personality(ADDR_NO_RANDOMIZE)", [] { return syscall(SYS_personality, ADDR_NO_RANDOMIZE); }},
    {"clone(CLONE_NEWNS)", [] { return CloneAndReap(CLONE_NEWNS); }},
    {"clone(CLONE_NEWUSER)", [] { return CloneAndReap(CLONE_NEWUSER); }},
};

// Calls an ordinary program makes; they must behave as without a filter.
const Probe kAllowed[] = {
    {"fork",
     [] {
       pid_t pid = fork();
       if (pid == 0) _exit(0);
       int status;
       return pid < 0 ? -1L : static_cast<long>(waitpid(pid, &status, 0));
     }},
    {"clone(SIGCHLD)", [] { return CloneAndReap(0); }},
    {"getppid", [] { return syscall(SYS_getppid); }},
    {"socket(AF_UNIX)", [] { return static_cast<long>(socket(AF_UNIX, SOCK_STREAM, 0)); }},
    {"openat(/proc/self/status)",
     [] { return static_cast<long>(open("/proc/self/status", O_RDONLY)); }},
    {"personality(query)", [] { return syscall(SYS_personality, 0xffffffff); }},
    {"personality(PER_LINUX)", [] { return syscall(SYS_personality, PER_LINUX); }},
    {"chroot(missing)", [] { return syscall(SYS_chroot, "/moor-nonexistent"); }},
    {"getpid", [] { return syscall(SYS_getpid); }},
};

TEST(SeccompDefaultProfile, BlocksEscapesWithEperm) {
  auto prog = Compile(DefaultProfile(DockerCaps()));
  ASSERT_TRUE(prog) << prog.error().message();
  bool root = geteuid() == 0;
  for (const Probe& probe : kBlocked) {
    SCOPED_TRACE(probe.name);
    ChildExit filtered = RunFiltered(&*prog, probe.call);
    EXPECT_EQ(filtered.code, EPERM) << filtered.out;
    // As root the kernel itself would not say EPERM: the filter did.
    if (root) {
      EXPECT_NE(RunFiltered(nullptr, probe.call).code, EPERM);
    }
  }
}

TEST(SeccompDefaultProfile, Clone3FailsWithEnosysSoLibcFallsBack) {
  auto prog = Compile(DefaultProfile(DockerCaps()));
  ASSERT_TRUE(prog) << prog.error().message();
  auto clone3 = [] { return syscall(SYS_clone3, nullptr, 0); };
  EXPECT_EQ(RunFiltered(nullptr, clone3).code, EINVAL) << "kernel answer without a filter";
  EXPECT_EQ(RunFiltered(&*prog, clone3).code, ENOSYS);
}

TEST(SeccompDefaultProfile, OrdinaryCallsWork) {
  auto prog = Compile(DefaultProfile(DockerCaps()));
  ASSERT_TRUE(prog) << prog.error().message();
  for (const Probe& probe : kAllowed) {
    SCOPED_TRACE(probe.name);
    int baseline = RunFiltered(nullptr, probe.call).code;
    ChildExit filtered = RunFiltered(&*prog, probe.call);
    EXPECT_EQ(filtered.code, baseline) << filtered.out;
    EXPECT_NE(filtered.code, EPERM);
  }
}

TEST(SeccompDefaultProfile, CapabilitiesUnlockTheirSyscalls) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root: without it the kernel refuses these calls itself";
  auto admin = Compile(DefaultProfile({"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}));
  ASSERT_TRUE(admin) << admin.error().message();
  for (const char* name :
       {"mount", "umount2", "setns", "pivot_root", "ptrace", "clone(CLONE_NEWNS)"}) {
    SCOPED_TRACE(name);
    const Probe* probe = nullptr;
    for (const Probe& p : kBlocked)
      if (std::string_view(p.name) == name) probe = &p;
    ASSERT_NE(probe, nullptr);
    int baseline = RunFiltered(nullptr, probe->call).code;
    EXPECT_EQ(RunFiltered(&*admin, probe->call).code, baseline);
  }
  // The keyring stays closed whatever the capabilities.
  auto all = Compile(DefaultProfile(AllCaps()));
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(RunFiltered(&*all, [] { return syscall(SYS_keyctl, kBogus, 0, 0, 0, 0); }).code, EPERM);
}

TEST(SeccompDefaultProfile, ThreadsStartThroughTheCloneFallback) {
  // glibc's pthread_create tries clone3 first; ENOSYS makes it use clone with
  // thread flags, which the profile allows. EPERM here would break threads.
  auto prog = Compile(DefaultProfile(DockerCaps()));
  ASSERT_TRUE(prog) << prog.error().message();
  ChildExit c = RunFiltered(&*prog, [] {
    static int value = 0;
    pthread_t t;
    int rc = pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          value = 42;
          return nullptr;
        },
        nullptr);
    if (rc != 0) {
      errno = rc;
      return -1L;
    }
    pthread_join(t, nullptr);
    return value == 42 ? 0L : (errno = EDOM, -1L);
  });
  EXPECT_EQ(c.code, 0) << c.out;
}

TEST(SeccompDefaultProfile, DynamicGlibcProgramsRunUnderIt) {
  for (const char* tool : {"/bin/sh", "/bin/ls", "/bin/date", "/usr/bin/sort"})
    if (access(tool, X_OK) != 0) GTEST_SKIP() << tool << " is not installed";
  auto prog = Compile(DefaultProfile(DockerCaps()));
  ASSERT_TRUE(prog) << prog.error().message();
  ChildExit c = RunInChild([&](int out) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 100;
    if (dup2(out, 1) < 0 || dup2(out, 2) < 0) return 101;
    auto loaded = Load(*prog);
    if (!loaded) {
      Say(out, loaded.error().message());
      return 102;
    }
    const char* script =
        "set -e; /bin/ls -l /proc/self/ > /dev/null; /bin/date +%Y > /dev/null; "
        "printf '3\\n1\\n2\\n' | /usr/bin/sort --parallel=2 | tr -d '\\n'; echo";
    execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    return 103;
  });
  EXPECT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out, "123\n");
}

TEST(SeccompDefaultProfile, BusyboxRunsUnderIt) {
  const char* busybox = "/bin/busybox";
  if (access(busybox, X_OK) != 0) GTEST_SKIP() << "busybox-static is not installed";
  auto prog = Compile(DefaultProfile(DockerCaps()));
  ASSERT_TRUE(prog) << prog.error().message();
  ChildExit c = RunInChild([&](int out) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 100;
    if (dup2(out, 1) < 0 || dup2(out, 2) < 0) return 101;
    auto loaded = Load(*prog);
    if (!loaded) {
      Say(out, loaded.error().message());
      return 102;
    }
    const char* script =
        "set -e; busybox true; d=$(busybox mktemp -d); echo hi > $d/f; busybox cat $d/f; "
        "busybox rm -r $d; busybox sh -c 'exit 3' || echo child=$?; "
        "busybox grep '^Seccomp:' /proc/self/status; "
        "busybox unshare -U true 2>/dev/null || echo unshare-refused";
    execl(busybox, "sh", "-c", script, static_cast<char*>(nullptr));
    return 103;
  });
  EXPECT_EQ(c.code, 0) << c.out;
  EXPECT_THAT(c.out, HasSubstr("hi\n"));
  EXPECT_THAT(c.out, HasSubstr("child=3\n"));
  EXPECT_THAT(c.out, HasSubstr("Seccomp:\t2"));
  EXPECT_THAT(c.out, HasSubstr("unshare-refused"));
}

}  // namespace
}  // namespace moor::runtime::seccomp
