#include "runtime/process/rlimits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "runtime/process/test_child.h"

namespace moor::runtime::process {
namespace {

using ::testing::HasSubstr;
using testing::RunInChild;
using testing::Say;

TEST(Rlimits, EveryOciNameMapsToItsResource) {
  const std::pair<const char*, int> expected[] = {
      {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},
      {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK},
  };
  for (const auto& [name, resource] : expected) EXPECT_EQ(RlimitFromName(name), resource) << name;
  EXPECT_EQ(RlimitFromName("RLIMIT_FOO"), -1);
  EXPECT_EQ(RlimitFromName("nofile"), -1);
}

TEST(Rlimits, PlanKeepsOrderAndValues) {
  auto plan = PlanRlimits({{"RLIMIT_NOFILE", 1024, 512}, {"RLIMIT_CORE", UINT64_MAX, UINT64_MAX}});
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ((*plan)[0].limit.rlim_cur, 512u);
  EXPECT_EQ((*plan)[0].limit.rlim_max, 1024u);
  EXPECT_EQ((*plan)[0].name, "RLIMIT_NOFILE");
  EXPECT_EQ((*plan)[1].resource, RLIMIT_CORE);
  EXPECT_EQ((*plan)[1].limit.rlim_cur, RLIM_INFINITY);
  EXPECT_EQ((*plan)[1].limit.rlim_max, RLIM_INFINITY);
}

TEST(Rlimits, UnknownTypeNamesTheEntry) {
  auto plan = PlanRlimits({{"RLIMIT_NOFILE", 10, 10}, {"RLIMIT_FOO", 1, 1}});
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message(),
              HasSubstr("process.rlimits[1].type: unknown rlimit \"RLIMIT_FOO\""));
}

TEST(Rlimits, SoftAboveHardIsAnError) {
  auto plan = PlanRlimits({{"RLIMIT_NOFILE", 10, 20}});
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message(),
              HasSubstr("process.rlimits[0]: soft limit 20 is above hard limit 10"));
}

TEST(Rlimits, DuplicateTypeIsAnError) {
  auto plan =
      PlanRlimits({{"RLIMIT_NOFILE", 10, 10}, {"RLIMIT_CORE", 0, 0}, {"RLIMIT_NOFILE", 5, 5}});
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message(),
              HasSubstr("process.rlimits[2].type: RLIMIT_NOFILE is given twice"));
}

TEST(Rlimits, ApplyLowersLimitsInAChild) {
  rlimit current{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &current), 0);
  rlim_t hard = std::min<rlim_t>(current.rlim_max, 200);
  rlim_t soft = std::min<rlim_t>(hard, 100);
  auto plan = PlanRlimits({{"RLIMIT_NOFILE", hard, soft}, {"RLIMIT_CORE", 0, 0}});
  ASSERT_TRUE(plan) << plan.error().message();
  auto c = RunInChild([&](int out) {
    auto r = ApplyRlimits(*plan);
    if (!r) {
      Say(out, r.error().message());
      return 1;
    }
    rlimit nofile{}, core{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    getrlimit(RLIMIT_CORE, &core);
    Say(out, std::to_string(nofile.rlim_cur) + " " + std::to_string(nofile.rlim_max) + " " +
                 std::to_string(core.rlim_cur) + " " + std::to_string(core.rlim_max));
    return 0;
  });
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out, std::to_string(soft) + " " + std::to_string(hard) + " 0 0");
}

TEST(Rlimits, RaisingAHardLimitWithoutCapSysResourceExplains) {
  auto plan = PlanRlimits({{"RLIMIT_NOFILE", 64, 64}});
  ASSERT_TRUE(plan);
  auto c = RunInChild([&](int out) {
    rlimit low{32, 32};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) return 10;
    // Drop CAP_SYS_RESOURCE from the effective set (no-op when not root).
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &h, d) != 0) return 11;
    d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    if (syscall(SYS_capset, &h, d) != 0) return 12;
    auto r = ApplyRlimits(*plan);
    if (r) return 13;
    Say(out, r.error().message());
    return r.error().errnum() == EPERM ? 0 : 14;
  });
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_THAT(c.out, HasSubstr("RLIMIT_NOFILE"));
  EXPECT_THAT(c.out, HasSubstr("CAP_SYS_RESOURCE"));
}

}  // namespace
}  // namespace moor::runtime::process
