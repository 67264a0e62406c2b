#include "runtime/seccomp/names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>

namespace moor::runtime::seccomp {
namespace {

using ::testing::HasSubstr;

TEST(SeccompNames, ActionsMapToLibseccompValues) {
  EXPECT_EQ(*ParseAction("SCMP_ACT_ALLOW", std::nullopt, "f"), SCMP_ACT_ALLOW);
  EXPECT_EQ(*ParseAction("SCMP_ACT_KILL", std::nullopt, "f"), SCMP_ACT_KILL_THREAD);
  EXPECT_EQ(*ParseAction("SCMP_ACT_KILL_THREAD", std::nullopt, "f"), SCMP_ACT_KILL_THREAD);
  EXPECT_EQ(*ParseAction("SCMP_ACT_KILL_PROCESS", std::nullopt, "f"), SCMP_ACT_KILL_PROCESS);
  EXPECT_EQ(*ParseAction("SCMP_ACT_TRAP", std::nullopt, "f"), SCMP_ACT_TRAP);
  EXPECT_EQ(*ParseAction("SCMP_ACT_LOG", std::nullopt, "f"), SCMP_ACT_LOG);
}

TEST(SeccompNames, ErrnoAndTraceCarryErrnoRetDefaultingToEperm) {
  EXPECT_EQ(*ParseAction("SCMP_ACT_ERRNO", std::nullopt, "f"), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(*ParseAction("SCMP_ACT_ERRNO", ENOSYS, "f"), SCMP_ACT_ERRNO(ENOSYS));
  EXPECT_EQ(*ParseAction("SCMP_ACT_ERRNO", 0u, "f"), SCMP_ACT_ERRNO(0));
  EXPECT_EQ(*ParseAction("SCMP_ACT_TRACE", 7u, "f"), SCMP_ACT_TRACE(7));
  EXPECT_EQ(*ParseAction("SCMP_ACT_TRACE", std::nullopt, "f"), SCMP_ACT_TRACE(EPERM));
  // errnoRet means nothing to other actions, as in runc.
  EXPECT_EQ(*ParseAction("SCMP_ACT_ALLOW", 5u, "f"), SCMP_ACT_ALLOW);
}

TEST(SeccompNames, ErrnoOutOfRangeIsAnError) {
  auto r = ParseAction("SCMP_ACT_ERRNO", 70000u, "linux.seccomp.syscalls[1].action");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("linux.seccomp.syscalls[1].action"));
  EXPECT_THAT(r.error().message(), HasSubstr("70000"));
}

TEST(SeccompNames, UnknownActionNamesFieldAndValue) {
  auto r = ParseAction("SCMP_ACT_FOO", std::nullopt, "linux.seccomp.syscalls[3].action");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(),
              HasSubstr("linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\""));
  EXPECT_EQ(r.error().errnum(), EINVAL);
}

TEST(SeccompNames, NotifyIsRefusedClearly) {
  auto r = ParseAction("SCMP_ACT_NOTIFY", std::nullopt, "linux.seccomp.defaultAction");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("linux.seccomp.defaultAction"));
  EXPECT_THAT(r.error().message(), HasSubstr("not supported"));
}

TEST(SeccompNames, Operators) {
  EXPECT_EQ(*ParseOperator("SCMP_CMP_NE", "f"), SCMP_CMP_NE);
  EXPECT_EQ(*ParseOperator("SCMP_CMP_LT", "f"), SCMP_CMP_LT);
  EXPECT_EQ(*ParseOperator("SCMP_CMP_LE", "f"), SCMP_CMP_LE);
  EXPECT_EQ(*ParseOperator("SCMP_CMP_EQ", "f"), SCMP_CMP_EQ);
  EXPECT_EQ(*ParseOperator("SCMP_CMP_GE", "f"), SCMP_CMP_GE);
  EXPECT_EQ(*ParseOperator("SCMP_CMP_GT", "f"), SCMP_CMP_GT);
  EXPECT_EQ(*ParseOperator("SCMP_CMP_MASKED_EQ", "f"), SCMP_CMP_MASKED_EQ);
  auto r = ParseOperator("SCMP_CMP_APPROX", "linux.seccomp.syscalls[0].args[1].op");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(),
              HasSubstr("linux.seccomp.syscalls[0].args[1].op: unknown operator "
                        "\"SCMP_CMP_APPROX\""));
}

TEST(SeccompNames, Architectures) {
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_X86_64", "f"), SCMP_ARCH_X86_64);
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_X86", "f"), SCMP_ARCH_X86);
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_X32", "f"), SCMP_ARCH_X32);
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_AARCH64", "f"), SCMP_ARCH_AARCH64);
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_ARM", "f"), SCMP_ARCH_ARM);
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_S390X", "f"), SCMP_ARCH_S390X);
  EXPECT_EQ(*ParseArchitecture("SCMP_ARCH_RISCV64", "f"), SCMP_ARCH_RISCV64);
  auto r = ParseArchitecture("SCMP_ARCH_Z80", "linux.seccomp.architectures[2]");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(),
              HasSubstr("linux.seccomp.architectures[2]: unknown architecture \"SCMP_ARCH_Z80\""));
  // x86_64 is not an OCI name (the spec uses the SCMP_ARCH_ prefix).
  EXPECT_FALSE(ParseArchitecture("x86_64", "f"));
}

TEST(SeccompNames, Flags) {
  EXPECT_EQ(*ParseFlag("SECCOMP_FILTER_FLAG_TSYNC", "f"), SECCOMP_FILTER_FLAG_TSYNC);
  EXPECT_EQ(*ParseFlag("SECCOMP_FILTER_FLAG_LOG", "f"), SECCOMP_FILTER_FLAG_LOG);
  EXPECT_EQ(*ParseFlag("SECCOMP_FILTER_FLAG_SPEC_ALLOW", "f"), SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  auto r = ParseFlag("SECCOMP_FILTER_FLAG_NEW_LISTENER", "linux.seccomp.flags[0]");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("linux.seccomp.flags[0]: unknown seccomp flag"));
}

}  // namespace
}  // namespace moor::runtime::seccomp
