// The ENOSYS prologue: pure tests run it in a small classic-BPF interpreter;
// behaviour tests load compiled profiles in forked children.
#include "runtime/seccomp/enosys_stub.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/seccomp/compile.h"
#include "runtime/seccomp/test_child.h"

namespace moor::runtime::seccomp {
namespace {

using testing::RunFiltered;

constexpr uint32_t kFellThrough = 0x7fff0000 | 0x1234;  // marker "reached the filter"
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;
constexpr uint32_t kX32 = 0x40000000;

// Runs `prog` (only the instructions the stub uses) on one seccomp_data.
uint32_t RunBpf(std::vector<sock_filter> prog, uint32_t arch, uint32_t nr) {
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, kFellThrough));
  uint32_t acc = 0;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        acc = f.k == offsetof(seccomp_data, arch) ? arch
              : f.k == offsetof(seccomp_data, nr) ? nr
                                                  : 0xdead;
        break;
      case BPF_JMP | BPF_JA:
        pc += f.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += acc == f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += acc > f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (acc & f.k) ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      default:
        ADD_FAILURE() << "unexpected BPF opcode " << f.code;
        return 0;
    }
  }
  ADD_FAILURE() << "ran off the end";
  return 0;
}

TEST(EnosysStub, EmptyLimitsGiveNoStub) {
  auto stub = BuildEnosysStub({});
  ASSERT_TRUE(stub);
  EXPECT_TRUE(stub->empty());
}

TEST(EnosysStub, AboveTheLargestKnownNumberIsEnosys) {
  auto stub = BuildEnosysStub({{AUDIT_ARCH_X86_64, false, 453}, {AUDIT_ARCH_I386, false, 400}});
  ASSERT_TRUE(stub) << stub.error().message();
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, 454), kEnosys);
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, 453), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, 0), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_I386, 401), kEnosys);
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_I386, 400), kFellThrough);
  // Architectures not in the filter are libseccomp's business (bad arch action).
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_AARCH64, 1000), kFellThrough);
  // x32 numbers on an x86_64 filter without x32: left to libseccomp.
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, kX32 | 1000), kFellThrough);
}

TEST(EnosysStub, X32HasItsOwnLimit) {
  auto stub =
      BuildEnosysStub({{AUDIT_ARCH_X86_64, false, 300}, {AUDIT_ARCH_X86_64, true, kX32 | 500}});
  ASSERT_TRUE(stub) << stub.error().message();
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, 301), kEnosys);
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, kX32 | 400), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, AUDIT_ARCH_X86_64, kX32 | 501), kEnosys);
  // x32 alone: plain x86_64 numbers go to the filter.
  auto only_x32 = BuildEnosysStub({{AUDIT_ARCH_X86_64, true, kX32 | 500}});
  ASSERT_TRUE(only_x32);
  EXPECT_EQ(RunBpf(*only_x32, AUDIT_ARCH_X86_64, 9999), kFellThrough);
  EXPECT_EQ(RunBpf(*only_x32, AUDIT_ARCH_X86_64, kX32 | 501), kEnosys);
}

TEST(EnosysStub, RejectsContradictions) {
  EXPECT_FALSE(BuildEnosysStub({{AUDIT_ARCH_I386, false, 1}, {AUDIT_ARCH_I386, false, 2}}));
  EXPECT_FALSE(BuildEnosysStub({{AUDIT_ARCH_AARCH64, true, 1}}));
}

// ---- in the kernel ---------------------------------------------------------------

oci::Seccomp SmallDenyProfile() {
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ERRNO";
  auto allowed = testing::ExitSyscalls();
  allowed.push_back("getppid");
  p.syscalls.push_back({.names = allowed, .action = "SCMP_ACT_ALLOW", .errno_ret = {}, .args = {}});
  return p;
}

long Clone3Probe() { return syscall(SYS_clone3, nullptr, 0); }

TEST(EnosysStub, SyscallNewerThanTheProfileGetsEnosys) {
  ASSERT_EQ(RunFiltered(nullptr, Clone3Probe).code, EINVAL) << "the kernel has clone3";
  auto prog = Compile(SmallDenyProfile());
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_EQ(RunFiltered(&*prog, Clone3Probe).code, ENOSYS);
  // Older than the profile's newest syscall and not allowed: the default action.
  EXPECT_EQ(RunFiltered(&*prog, [] { return syscall(SYS_getpid); }).code, EPERM);
  EXPECT_EQ(RunFiltered(&*prog, [] { return syscall(SYS_getppid); }).code, 0);
}

TEST(EnosysStub, NotAddedWhenTheDefaultAllows) {
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  p.syscalls.push_back(
      {.names = {"getcwd"}, .action = "SCMP_ACT_ERRNO", .errno_ret = {}, .args = {}});
  auto prog = Compile(p);
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_EQ(RunFiltered(&*prog, Clone3Probe).code, EINVAL);
}

#if defined(__x86_64__)
long I386Syscall(long nr) {
  long r;
  asm volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(0), "c"(0) : "memory");
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

TEST(EnosysStub, AppliesPerArchitecture) {
  if (RunFiltered(nullptr, [] { return I386Syscall(20); }).code != 0)
    GTEST_SKIP() << "no IA32 emulation in this kernel";
  oci::Seccomp p = SmallDenyProfile();
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
  auto prog = Compile(p);
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_EQ(RunFiltered(&*prog, [] { return I386Syscall(435); }).code, ENOSYS);  // i386 clone3
  EXPECT_EQ(RunFiltered(&*prog, [] { return I386Syscall(20); }).code, EPERM);    // i386 getpid
  EXPECT_EQ(RunFiltered(&*prog, [] { return I386Syscall(64); }).code, 0);        // i386 getppid
}
#endif

}  // namespace
}  // namespace moor::runtime::seccomp
