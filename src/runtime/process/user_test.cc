// SwitchUser / ApplyCredentials for real: as root, in forked children, checked
// through /proc/self/status before and after an exec. Skipped without root.
#include "runtime/process/user.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oci/capability_names.h"
#include "runtime/process/test_child.h"

namespace moor::runtime::process {
namespace {

using testing::ChildExit;
using ::testing::HasSubstr;
using testing::RunInChild;
using testing::Say;
using testing::SendStatus;
using testing::StatusField;

constexpr const char* kBusybox = "/bin/busybox";
constexpr const char* kDockerMask = "00000000a80425fb";
constexpr const char* kZero = "0000000000000000";

std::vector<std::string> DockerCaps() {
  std::vector<std::string> caps;
  for (auto c : oci::DefaultCapabilities()) caps.emplace_back(c);
  return caps;
}

bool CanSwitchUsers() {
  if (geteuid() != 0) return false;
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (syscall(SYS_capget, &h, d) != 0) return false;
  uint32_t need = (1u << CAP_SETUID) | (1u << CAP_SETGID) | (1u << CAP_SETPCAP);
  return (d[0].effective & need) == need;
}

#define REQUIRE_ROOT() \
  if (!CanSwitchUsers()) GTEST_SKIP() << "needs root with CAP_SETUID, CAP_SETGID and CAP_SETPCAP"

struct Outcome {
  ChildExit before_exec;  // /proc/self/status right after ApplyCredentials
  ChildExit after_exec;   // /proc/self/status as `busybox cat` sees it
};

// Applies credentials in a child and reports its status, then does the same
// again with an exec of busybox cat /proc/self/status after the change.
Outcome Apply(const oci::User& user, const oci::Capabilities& caps) {
  auto sets = ComputeCapSets(caps);
  auto last = ReadLastCap();
  EXPECT_TRUE(sets) << sets.error().message();
  EXPECT_TRUE(last);
  if (!sets || !last) return {};
  CapSets clamped = ClampToKernel(*sets, *last);
  Outcome o;
  o.before_exec = RunInChild([&](int out) {
    auto r = ApplyCredentials(user, clamped, *last);
    if (!r) {
      Say(out, r.error().message());
      return 1;
    }
    return SendStatus(out) ? 0 : 2;
  });
  if (access(kBusybox, X_OK) == 0) {
    o.after_exec = RunInChild([&](int out) {
      auto r = ApplyCredentials(user, clamped, *last);
      if (!r) {
        Say(out, r.error().message());
        return 1;
      }
      if (dup2(out, 1) < 0) return 2;
      execl(kBusybox, "cat", "/proc/self/status", static_cast<char*>(nullptr));
      return 3;
    });
  }
  return o;
}

oci::Capabilities Same(const std::vector<std::string>& names) {
  oci::Capabilities c;
  c.bounding = c.effective = c.permitted = names;
  return c;
}

TEST(SwitchUser, RootContainerWithDockerDefaults) {
  REQUIRE_ROOT();
  Outcome o = Apply(oci::User{}, Same(DockerCaps()));
  for (const ChildExit* c : {&o.before_exec, &o.after_exec}) {
    if (c == &o.after_exec && c->code == -1 && c->out.empty()) continue;  // no busybox
    ASSERT_EQ(c->code, 0) << c->out;
    EXPECT_EQ(StatusField(c->out, "CapInh"), kZero);
    EXPECT_EQ(StatusField(c->out, "CapPrm"), kDockerMask);
    EXPECT_EQ(StatusField(c->out, "CapEff"), kDockerMask);
    EXPECT_EQ(StatusField(c->out, "CapBnd"), kDockerMask);
    EXPECT_EQ(StatusField(c->out, "CapAmb"), kZero);
    EXPECT_EQ(StatusField(c->out, "Uid"), "0\t0\t0\t0");
    EXPECT_EQ(StatusField(c->out, "Groups"), "");
  }
}

TEST(SwitchUser, NonRootUserWithGroupsUmaskAndCaps) {
  REQUIRE_ROOT();
  oci::User u{.uid = 1000, .gid = 1001, .umask = 027, .additional_gids = {10, 20}};
  Outcome o = Apply(u, Same(DockerCaps()));
  ASSERT_EQ(o.before_exec.code, 0) << o.before_exec.out;
  const std::string& s = o.before_exec.out;
  EXPECT_EQ(StatusField(s, "Uid"), "1000\t1000\t1000\t1000");
  EXPECT_EQ(StatusField(s, "Gid"), "1001\t1001\t1001\t1001");
  EXPECT_EQ(StatusField(s, "Groups"), "10 20");
  EXPECT_EQ(StatusField(s, "Umask"), "0027");
  // Asked for: kept across the uid change (PR_SET_KEEPCAPS) and made effective.
  EXPECT_EQ(StatusField(s, "CapPrm"), kDockerMask);
  EXPECT_EQ(StatusField(s, "CapEff"), kDockerMask);
  EXPECT_EQ(StatusField(s, "CapBnd"), kDockerMask);
  EXPECT_EQ(StatusField(s, "CapInh"), kZero);

  if (o.after_exec.code == -1) GTEST_SKIP() << "busybox-static is not installed";
  ASSERT_EQ(o.after_exec.code, 0) << o.after_exec.out;
  const std::string& e = o.after_exec.out;
  EXPECT_EQ(StatusField(e, "Uid"), "1000\t1000\t1000\t1000");
  // A non-root program without file capabilities or ambient ones ends with none.
  EXPECT_EQ(StatusField(e, "CapPrm"), kZero);
  EXPECT_EQ(StatusField(e, "CapEff"), kZero);
  EXPECT_EQ(StatusField(e, "CapBnd"), kDockerMask);
}

TEST(SwitchUser, NonRootUserWithoutCapsHasNone) {
  REQUIRE_ROOT();
  Outcome o = Apply(oci::User{.uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {}},
                    oci::Capabilities{});
  ASSERT_EQ(o.before_exec.code, 0) << o.before_exec.out;
  for (const char* f : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(StatusField(o.before_exec.out, f), kZero) << f;
  EXPECT_EQ(StatusField(o.before_exec.out, "Groups"), "");
}

TEST(SwitchUser, AmbientCapabilitySurvivesExecForNonRoot) {
  REQUIRE_ROOT();
  oci::Capabilities c = Same({"CAP_NET_BIND_SERVICE"});
  c.inheritable = c.ambient = {"CAP_NET_BIND_SERVICE"};
  Outcome o = Apply(oci::User{.uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {}}, c);
  ASSERT_EQ(o.before_exec.code, 0) << o.before_exec.out;
  EXPECT_EQ(StatusField(o.before_exec.out, "CapAmb"), "0000000000000400");
  if (o.after_exec.code == -1) GTEST_SKIP() << "busybox-static is not installed";
  ASSERT_EQ(o.after_exec.code, 0) << o.after_exec.out;
  for (const char* f : {"CapInh", "CapPrm", "CapEff", "CapAmb"})
    EXPECT_EQ(StatusField(o.after_exec.out, f), "0000000000000400") << f;
}

TEST(SwitchUser, AmbientThatIsNotInheritableIsSkipped) {
  REQUIRE_ROOT();
  oci::Capabilities c = Same({"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"});
  c.inheritable = {"CAP_NET_BIND_SERVICE"};
  c.ambient = {"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"};
  Outcome o = Apply(oci::User{.uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {}}, c);
  ASSERT_EQ(o.before_exec.code, 0) << o.before_exec.out;
  EXPECT_EQ(StatusField(o.before_exec.out, "CapAmb"), "0000000000000400");
}

TEST(SwitchUser, KeepsPermittedButClearsEffectiveUntilCapset) {
  REQUIRE_ROOT();
  ChildExit c = RunInChild([](int out) {
    SendStatus(out);
    Say(out, "--\n");
    auto r = SwitchUser(oci::User{.uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {}});
    if (!r) {
      Say(out, r.error().message());
      return 1;
    }
    return SendStatus(out) ? 0 : 2;
  });
  ASSERT_EQ(c.code, 0) << c.out;
  size_t split = c.out.find("--\n");
  ASSERT_NE(split, std::string::npos);
  std::string before = c.out.substr(0, split), after = c.out.substr(split + 3);
  EXPECT_EQ(StatusField(after, "CapPrm"), StatusField(before, "CapPrm"));
  EXPECT_EQ(StatusField(after, "CapEff"), kZero);
  EXPECT_EQ(StatusField(after, "Uid"), "1000\t1000\t1000\t1000");
  EXPECT_EQ(StatusField(after, "Groups"), "");
}

TEST(SwitchUser, EffectiveCapabilityOutsideTheRuntimesSetFails) {
  REQUIRE_ROOT();
  // Raise CAP_SYS_MODULE after it was dropped from permitted: capset refuses.
  ChildExit c = RunInChild([](int out) {
    CapSets none{};
    if (!ApplyCapSets(none)) return 1;
    CapSets want{.bounding = 0,
                 .effective = uint64_t{1} << CAP_SYS_MODULE,
                 .permitted = uint64_t{1} << CAP_SYS_MODULE,
                 .inheritable = 0,
                 .ambient = 0};
    auto r = ApplyCapSets(want);
    if (r) return 2;
    Say(out, r.error().message());
    return 0;
  });
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_THAT(c.out, HasSubstr("capset"));
}

TEST(SwitchUser, AdditionalGidsRefusedWhenSetgroupsIsDenied) {
  // No syscall is made before the refusal, so this runs without root.
  oci::User u{.uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {5}};
  auto r = SwitchUser(u, SwitchUserOptions{.setgroups_allowed = false});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("process.user.additionalGids"));
}

TEST(SwitchUser, UnmappedUidExplainsItself) {
  REQUIRE_ROOT();
  // In a fresh user namespace no id is mapped, so setresgid gets EINVAL.
  ChildExit c = RunInChild([](int out) {
    if (unshare(CLONE_NEWUSER) != 0) return 10;  // no uid is mapped in it
    auto r = SwitchUser(oci::User{.uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {}},
                        SwitchUserOptions{.setgroups_allowed = false});
    if (r) return 2;
    Say(out, r.error().message());
    return 0;
  });
  if (c.code == 10) GTEST_SKIP() << "cannot create a user namespace here";
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_THAT(c.out, HasSubstr("mapped in the container's user namespace"));
}

}  // namespace
}  // namespace moor::runtime::process
