// Compile(): errors for bad profiles, and the behaviour of compiled filters
// checked for real in forked children (no root needed: NO_NEW_PRIVS is set
// in the child before loading).
#include "runtime/seccomp/compile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <csignal>
#include <functional>

#include "runtime/seccomp/load.h"
#include "runtime/seccomp/test_child.h"

namespace moor::runtime::seccomp {
namespace {

using testing::ChildExit;
using testing::ExitSyscalls;
using ::testing::HasSubstr;
using testing::RunFiltered;

oci::SeccompSyscall Rule(std::vector<std::string> names, std::string action,
                         std::optional<uint32_t> errno_ret = std::nullopt,
                         std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall sc;
  sc.names = std::move(names);
  sc.action = std::move(action);
  sc.errno_ret = errno_ret;
  sc.args = std::move(args);
  return sc;
}

oci::SeccompArg Arg(uint32_t index, std::string op, uint64_t value, uint64_t value_two = 0) {
  return oci::SeccompArg{.index = index, .value = value, .value_two = value_two, .op = op};
}

oci::Seccomp Profile(std::string default_action, std::vector<oci::SeccompSyscall> rules) {
  oci::Seccomp p;
  p.default_action = std::move(default_action);
  p.syscalls = std::move(rules);
  return p;
}

Program MustCompile(const oci::Seccomp& p) {
  auto r = Compile(p);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : Program{};
}

long GetcwdProbe() {
  char buf[256];
  return getcwd(buf, sizeof buf) ? 0 : -1;
}

// ---- errors -----------------------------------------------------------------

void ExpectError(const oci::Seccomp& p, std::string_view text) {
  auto r = Compile(p);
  ASSERT_FALSE(r) << "expected an error containing: " << text;
  EXPECT_THAT(r.error().message(), HasSubstr(std::string(text)));
  EXPECT_EQ(r.error().errnum(), EINVAL);
}

TEST(SeccompCompile, UnknownActionNamesTheRule) {
  auto p = Profile("SCMP_ACT_ALLOW",
                   {Rule({"read"}, "SCMP_ACT_ERRNO"), Rule({"write"}, "SCMP_ACT_ERRNO"),
                    Rule({"open"}, "SCMP_ACT_ERRNO"), Rule({"close"}, "SCMP_ACT_FOO")});
  ExpectError(p, "linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");
}

TEST(SeccompCompile, UnknownDefaultActionAndMissingDefaultAction) {
  ExpectError(Profile("SCMP_ACT_MAYBE", {}), "linux.seccomp.defaultAction: unknown action");
  ExpectError(Profile("", {}), "linux.seccomp.defaultAction: required");
}

TEST(SeccompCompile, UnknownOperatorNamesTheArgument) {
  auto p =
      Profile("SCMP_ACT_ALLOW", {Rule({"read"}, "SCMP_ACT_ERRNO", std::nullopt,
                                      {Arg(0, "SCMP_CMP_EQ", 1), Arg(1, "SCMP_CMP_SIMILAR", 2)})});
  ExpectError(p, "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_SIMILAR\"");
}

TEST(SeccompCompile, ArgumentIndexBeyondSixIsAnError) {
  auto p = Profile("SCMP_ACT_ALLOW",
                   {Rule({"read"}, "SCMP_ACT_ERRNO", std::nullopt, {Arg(6, "SCMP_CMP_EQ", 1)})});
  ExpectError(p, "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument");
}

TEST(SeccompCompile, UnknownArchitectureNamesTheEntry) {
  auto p = Profile("SCMP_ACT_ALLOW", {});
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
  ExpectError(p, "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
}

TEST(SeccompCompile, UnknownFlagNamesTheEntry) {
  auto p = Profile("SCMP_ACT_ALLOW", {});
  p.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TURBO"};
  ExpectError(p, "linux.seccomp.flags[1]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_TURBO\"");
}

TEST(SeccompCompile, NotifyAndListenerPathAreNotSupported) {
  ExpectError(Profile("SCMP_ACT_ALLOW", {Rule({"mkdir"}, "SCMP_ACT_NOTIFY")}),
              "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported");
  auto p = Profile("SCMP_ACT_ALLOW", {});
  p.listener_path = "/run/agent.sock";
  ExpectError(p, "linux.seccomp.listenerPath: seccomp user notification is not supported");
}

TEST(SeccompCompile, EmptyNamesAreErrors) {
  ExpectError(Profile("SCMP_ACT_ALLOW", {Rule({}, "SCMP_ACT_ERRNO")}),
              "linux.seccomp.syscalls[0].names: must list at least one syscall");
  ExpectError(Profile("SCMP_ACT_ALLOW", {Rule({"read", ""}, "SCMP_ACT_ERRNO")}),
              "linux.seccomp.syscalls[0].names[1]: empty syscall name");
}

TEST(SeccompCompile, FlagsGoToTheProgram) {
  auto p = Profile("SCMP_ACT_ALLOW", {Rule({"getcwd"}, "SCMP_ACT_ERRNO")});
  p.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
             "SECCOMP_FILTER_FLAG_TSYNC"};
  Program prog = MustCompile(p);
  EXPECT_EQ(prog.flags,
            static_cast<unsigned>(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                                  SECCOMP_FILTER_FLAG_TSYNC));
  EXPECT_FALSE(prog.filter.empty());
  // The kernel accepts them (Linux >= 4.17).
  ChildExit c = RunFiltered(&prog, GetcwdProbe);
  EXPECT_EQ(c.code, EPERM) << c.out;
}

// ---- behaviour ----------------------------------------------------------------

TEST(SeccompCompile, ErrnoRuleFailsTheSyscallWithTheChosenErrno) {
  EXPECT_EQ(RunFiltered(nullptr, GetcwdProbe).code, 0) << "getcwd works without a filter";
  Program prog =
      MustCompile(Profile("SCMP_ACT_ALLOW", {Rule({"getcwd"}, "SCMP_ACT_ERRNO", ENOTBLK)}));
  ChildExit c = RunFiltered(&prog, GetcwdProbe);
  EXPECT_EQ(c.code, ENOTBLK) << c.out;
  // Other syscalls are untouched.
  EXPECT_EQ(RunFiltered(&prog, [] { return syscall(SYS_getppid); }).code, 0);
}

TEST(SeccompCompile, ErrnoRuleWithoutErrnoRetGivesEperm) {
  Program prog = MustCompile(Profile("SCMP_ACT_ALLOW", {Rule({"uname"}, "SCMP_ACT_ERRNO")}));
  ChildExit c = RunFiltered(&prog, [] {
    utsname u;
    return static_cast<long>(uname(&u));
  });
  EXPECT_EQ(c.code, EPERM) << c.out;
}

TEST(SeccompCompile, DefaultActionWithDefaultErrnoRet) {
  auto allowed = ExitSyscalls();
  allowed.push_back("getppid");
  auto p = Profile("SCMP_ACT_ERRNO", {Rule(allowed, "SCMP_ACT_ALLOW")});
  p.default_errno_ret = ENXIO;
  Program prog = MustCompile(p);
  ChildExit blocked = RunFiltered(&prog, [] {
    utsname u;
    return static_cast<long>(uname(&u));
  });
  EXPECT_EQ(blocked.code, ENXIO) << blocked.out;
  EXPECT_EQ(RunFiltered(&prog, [] { return syscall(SYS_getppid); }).code, 0);
}

TEST(SeccompCompile, UnknownSyscallNamesAreSkipped) {
  auto p = Profile(
      "SCMP_ACT_ALLOW",
      {Rule({"moor_no_such_syscall", "getcwd", "another_future_syscall"}, "SCMP_ACT_ERRNO", EDOM)});
  Program prog = MustCompile(p);
  EXPECT_EQ(RunFiltered(&prog, GetcwdProbe).code, EDOM);
}

TEST(SeccompCompile, RuleWithTheDefaultActionIsRedundantNotAnError) {
  auto p = Profile("SCMP_ACT_ALLOW",
                   {Rule({"getppid"}, "SCMP_ACT_ALLOW"), Rule({"getcwd"}, "SCMP_ACT_ERRNO", EDOM)});
  Program prog = MustCompile(p);
  EXPECT_EQ(RunFiltered(&prog, GetcwdProbe).code, EDOM);
}

// getppid ignores its arguments but seccomp sees the registers, so it is a
// harmless carrier for argument comparisons.
long Getppid(uint64_t a0, uint64_t a1 = 0) { return syscall(SYS_getppid, a0, a1); }

struct OpCase {
  const char* op;
  uint64_t value, value_two;
  uint64_t matching, not_matching;
};

TEST(SeccompCompile, EveryComparisonOperator) {
  const OpCase cases[] = {
      {"SCMP_CMP_NE", 5, 0, 6, 5},
      {"SCMP_CMP_LT", 5, 0, 4, 5},
      {"SCMP_CMP_LE", 5, 0, 5, 6},
      {"SCMP_CMP_EQ", 5, 0, 5, 4},
      {"SCMP_CMP_EQ", 0x100000000ull, 0, 0x100000000ull, 0},  // upper 32 bits count
      {"SCMP_CMP_GE", 5, 0, 5, 4},
      {"SCMP_CMP_GT", 5, 0, 6, 5},
      {"SCMP_CMP_MASKED_EQ", 0xf0, 0x30, 0x35, 0x45},
  };
  for (const OpCase& c : cases) {
    SCOPED_TRACE(std::string(c.op) + " " + std::to_string(c.value));
    Program prog = MustCompile(
        Profile("SCMP_ACT_ALLOW",
                {Rule({"getppid"}, "SCMP_ACT_ERRNO", EDOM, {Arg(0, c.op, c.value, c.value_two)})}));
    EXPECT_EQ(RunFiltered(&prog, [&] { return Getppid(c.matching); }).code, EDOM);
    EXPECT_EQ(RunFiltered(&prog, [&] { return Getppid(c.not_matching); }).code, 0);
  }
}

TEST(SeccompCompile, ConditionsOnDifferentArgumentsAreAnded) {
  Program prog = MustCompile(
      Profile("SCMP_ACT_ALLOW", {Rule({"getppid"}, "SCMP_ACT_ERRNO", EDOM,
                                      {Arg(0, "SCMP_CMP_EQ", 1), Arg(1, "SCMP_CMP_EQ", 2)})}));
  EXPECT_EQ(RunFiltered(&prog, [] { return Getppid(1, 2); }).code, EDOM);
  EXPECT_EQ(RunFiltered(&prog, [] { return Getppid(1, 3); }).code, 0);
  EXPECT_EQ(RunFiltered(&prog, [] { return Getppid(0, 2); }).code, 0);
}

TEST(SeccompCompile, ConditionsOnTheSameArgumentAreOredAsInRunc) {
  Program prog = MustCompile(
      Profile("SCMP_ACT_ALLOW", {Rule({"getppid"}, "SCMP_ACT_ERRNO", EDOM,
                                      {Arg(0, "SCMP_CMP_EQ", 1), Arg(0, "SCMP_CMP_EQ", 2)})}));
  EXPECT_EQ(RunFiltered(&prog, [] { return Getppid(1); }).code, EDOM);
  EXPECT_EQ(RunFiltered(&prog, [] { return Getppid(2); }).code, EDOM);
  EXPECT_EQ(RunFiltered(&prog, [] { return Getppid(3); }).code, 0);
}

TEST(SeccompCompile, AllowOnlyListedPersonalityValue) {
  auto p =
      Profile("SCMP_ACT_ERRNO",
              {Rule(ExitSyscalls(), "SCMP_ACT_ALLOW"),
               Rule({"personality"}, "SCMP_ACT_ALLOW", std::nullopt, {Arg(0, "SCMP_CMP_EQ", 0)})});
  Program prog = MustCompile(p);
  EXPECT_EQ(RunFiltered(&prog, [] { return syscall(SYS_personality, 0); }).code, 0);
  EXPECT_EQ(RunFiltered(&prog, [] { return syscall(SYS_personality, 0x0040000); }).code, EPERM);
}

TEST(SeccompCompile, KillActionsEndTheChildWithSigsys) {
  for (const char* action :
       {"SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"}) {
    SCOPED_TRACE(action);
    Program prog = MustCompile(Profile("SCMP_ACT_ALLOW", {Rule({"getcwd"}, action)}));
    ChildExit c = RunFiltered(&prog, GetcwdProbe);
    EXPECT_EQ(c.signal, SIGSYS) << "exit code " << c.code << " " << c.out;
  }
}

TEST(SeccompCompile, LogActionLetsTheSyscallRun) {
  Program prog = MustCompile(Profile("SCMP_ACT_ERRNO", {Rule(ExitSyscalls(), "SCMP_ACT_ALLOW"),
                                                        Rule({"getcwd"}, "SCMP_ACT_LOG")}));
  EXPECT_EQ(RunFiltered(&prog, GetcwdProbe).code, 0);
  EXPECT_EQ(RunFiltered(&prog, [] { return syscall(SYS_getppid); }).code, EPERM);
}

TEST(SeccompCompile, TraceActionWithoutTracerGivesEnosys) {
  Program prog = MustCompile(Profile("SCMP_ACT_ALLOW", {Rule({"getcwd"}, "SCMP_ACT_TRACE", 3)}));
  EXPECT_EQ(RunFiltered(&prog, GetcwdProbe).code, ENOSYS);
}

#if defined(__x86_64__)
// The i386 getpid through int $0x80: seccomp sees AUDIT_ARCH_I386 for it.
long GetpidI386() {
  long r;
  asm volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

TEST(SeccompCompile, ArchitecturesAddTheirSyscallTables) {
  ChildExit baseline = RunFiltered(nullptr, GetpidI386);
  if (baseline.code != 0) GTEST_SKIP() << "no IA32 emulation in this kernel";

  // Native only: an i386 syscall is a bad architecture, and kills.
  Program native =
      MustCompile(Profile("SCMP_ACT_ALLOW", {Rule({"getpid"}, "SCMP_ACT_ERRNO", EDOM)}));
  EXPECT_EQ(RunFiltered(&native, GetpidI386).signal, SIGSYS);

  // With SCMP_ARCH_X86 the same rule matches the i386 getpid (another number).
  auto p = Profile("SCMP_ACT_ALLOW", {Rule({"getpid"}, "SCMP_ACT_ERRNO", EDOM)});
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  Program multi = MustCompile(p);
  EXPECT_EQ(RunFiltered(&multi, GetpidI386).code, EDOM);
  EXPECT_EQ(RunFiltered(&multi, [] { return syscall(SYS_getpid); }).code, EDOM);
  EXPECT_EQ(RunFiltered(&multi, [] { return syscall(SYS_getppid); }).code, 0);
}
#endif

}  // namespace
}  // namespace moor::runtime::seccomp
