#include "runtime/seccomp/load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/seccomp/compile.h"
#include "runtime/seccomp/test_child.h"

namespace moor::runtime::seccomp {
namespace {

using ::testing::HasSubstr;
using testing::RunInChild;
using testing::Say;

TEST(SeccompLoad, EmptyProgramIsRefused) {
  auto r = Load(Program{});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("empty"));
}

TEST(SeccompLoad, WithoutNoNewPrivsAndWithoutCapSysAdminItExplains) {
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  p.syscalls.push_back(
      {.names = {"getcwd"}, .action = "SCMP_ACT_ERRNO", .errno_ret = {}, .args = {}});
  auto prog = Compile(p);
  ASSERT_TRUE(prog) << prog.error().message();
  auto c = RunInChild([&](int out) {
    // Drop CAP_SYS_ADMIN from the effective set (works as root and non-root).
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return 1;
    data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    if (syscall(SYS_capset, &hdr, data) != 0) return 2;
    auto r = Load(*prog);
    if (r) return 3;
    Say(out, r.error().message());
    return r.error().errnum() == EACCES ? 0 : 4;
  });
  EXPECT_EQ(c.code, 0) << c.out;
  EXPECT_THAT(c.out, HasSubstr("no_new_privileges"));
}

}  // namespace
}  // namespace moor::runtime::seccomp
