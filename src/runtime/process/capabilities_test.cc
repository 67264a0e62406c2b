#include "runtime/process/capabilities.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "oci/capability_names.h"
#include "runtime/process/test_child.h"

namespace moor::runtime::process {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RunInChild;
using testing::Say;
using testing::SendStatus;
using testing::StatusField;

std::vector<std::string> DockerCaps() {
  std::vector<std::string> caps;
  for (auto c : oci::DefaultCapabilities()) caps.emplace_back(c);
  return caps;
}

// Docker's 14 default capabilities, as `docker run` shows them in CapEff.
constexpr uint64_t kDockerMask = 0x00000000a80425fbULL;

TEST(CapSets, DockerDefaultsGiveDockersMask) {
  auto mask = CapMask(DockerCaps(), "process.capabilities.bounding");
  ASSERT_TRUE(mask) << mask.error().message();
  EXPECT_EQ(*mask, kDockerMask);
}

TEST(CapSets, EachSetIsComputedFromItsList) {
  oci::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.permitted = {"CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_KILL"};
  c.inheritable = {"CAP_NET_BIND_SERVICE"};
  c.ambient = {"CAP_NET_BIND_SERVICE"};
  auto s = ComputeCapSets(c);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->bounding, (1u << 0) | (1u << 5) | (1u << 10));
  EXPECT_EQ(s->permitted, (1u << 5) | (1u << 10));
  EXPECT_EQ(s->effective, 1u << 5);
  EXPECT_EQ(s->inheritable, 1u << 10);
  EXPECT_EQ(s->ambient, 1u << 10);
  EXPECT_TRUE(HasInheritable(*s));
  EXPECT_EQ(UnraisableAmbient(*s), 0u);
}

TEST(CapSets, HighCapabilitiesUseTheUpperWord) {
  auto mask = CapMask({"CAP_CHECKPOINT_RESTORE", "CAP_BPF"}, "f");
  ASSERT_TRUE(mask);
  EXPECT_EQ(*mask, (uint64_t{1} << 40) | (uint64_t{1} << 39));
}

TEST(CapSets, UnknownNameIsAnErrorNamingTheSet) {
  oci::Capabilities c;
  c.bounding = {"CAP_CHOWN"};
  c.ambient = {"CAP_CHOWN", "CAP_FLY"};
  auto s = ComputeCapSets(c);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(),
              HasSubstr("process.capabilities.ambient: unknown capability \"CAP_FLY\""));
  // Names are case-sensitive, as in runc.
  EXPECT_FALSE(CapMask({"cap_chown"}, "f"));
}

TEST(CapSets, EffectiveMustBePermitted) {
  oci::Capabilities c;
  c.effective = {"CAP_CHOWN", "CAP_KILL"};
  c.permitted = {"CAP_CHOWN"};
  auto s = ComputeCapSets(c);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("process.capabilities.effective: CAP_KILL not in"));
}

TEST(CapSets, InheritableIsKeptAsGivenAndFlagged) {
  oci::Capabilities c;
  c.permitted = DockerCaps();
  c.effective = DockerCaps();
  auto none = ComputeCapSets(c);
  ASSERT_TRUE(none);
  EXPECT_FALSE(HasInheritable(*none));
  c.inheritable = {"CAP_NET_RAW"};
  auto some = ComputeCapSets(c);
  ASSERT_TRUE(some);
  EXPECT_TRUE(HasInheritable(*some));
  EXPECT_EQ(some->inheritable, uint64_t{1} << 13);
}

TEST(CapSets, AmbientNotPermittedAndInheritableIsReported) {
  CapSets s;
  s.permitted = 0b111;
  s.inheritable = 0b011;
  s.ambient = 0b1110;
  EXPECT_EQ(UnraisableAmbient(s), 0b1100u);
  EXPECT_THAT(CapNames(UnraisableAmbient(s)), ElementsAre("CAP_DAC_READ_SEARCH", "CAP_FOWNER"));
}

TEST(CapSets, KernelMaskAndClamp) {
  EXPECT_EQ(KernelCapMask(40), 0x1ffffffffffULL);
  EXPECT_EQ(KernelCapMask(63), ~uint64_t{0});
  EXPECT_EQ(KernelCapMask(0), 1u);
  CapSets s{.bounding = ~uint64_t{0},
            .effective = 1,
            .permitted = uint64_t{1} << 40,
            .inheritable = 0,
            .ambient = uint64_t{1} << 38};
  CapSets c = ClampToKernel(s, 37);
  EXPECT_EQ(c.bounding, 0x3fffffffffULL);
  EXPECT_EQ(c.effective, 1u);
  EXPECT_EQ(c.permitted, 0u);
  EXPECT_EQ(c.ambient, 0u);
  EXPECT_THAT(CapNames(s.permitted & ~KernelCapMask(37)), ElementsAre("CAP_CHECKPOINT_RESTORE"));
  EXPECT_THAT(CapNames(uint64_t{1} << 50), ElementsAre("CAP_#50"));
}

TEST(CapSets, ReadLastCap) {
  std::string path = ::testing::TempDir() + "/moor_cap_last_cap";
  std::ofstream(path) << "40\n";
  auto n = ReadLastCap(path);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 40);
  std::ofstream(path) << "forty\n";
  auto bad = ReadLastCap(path);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("unexpected content \"forty\""));
  std::remove(path.c_str());
  EXPECT_FALSE(ReadLastCap(path));

  auto real = ReadLastCap();
  ASSERT_TRUE(real) << real.error().message();
  EXPECT_GE(*real, 36);  // every kernel since 3.16 knows CAP_BLOCK_SUSPEND …
}

// ---- OS side, in forked children -------------------------------------------

TEST(CapSetsOs, ApplyCapSetsToASubsetWorksWithoutRoot) {
  // Lowering capabilities needs no privilege: an empty set always works.
  auto c = RunInChild([](int out) {
    auto r = ApplyCapSets(CapSets{});
    if (!r) {
      Say(out, r.error().message());
      return 1;
    }
    return SendStatus(out) ? 0 : 2;
  });
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(StatusField(c.out, "CapEff"), "0000000000000000");
  EXPECT_EQ(StatusField(c.out, "CapPrm"), "0000000000000000");
  EXPECT_EQ(StatusField(c.out, "CapInh"), "0000000000000000");
  EXPECT_EQ(StatusField(c.out, "CapAmb"), "0000000000000000");
}

TEST(CapSetsOs, DropBoundingSetNeedsCapSetpcapAndSaysSo) {
  auto last = ReadLastCap();
  ASSERT_TRUE(last);
  auto c = RunInChild([&](int out) {
    // Keep everything but CAP_SETPCAP, so the drop below cannot be allowed.
    CapSets s;
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &h, d) != 0) return 1;
    s.permitted = d[0].permitted | (uint64_t{d[1].permitted} << 32);
    s.effective = s.permitted & ~(uint64_t{1} << CAP_SETPCAP);
    if (!ApplyCapSets(s)) return 2;
    // Drop a capability that is still in the bounding set.
    int victim = -1;
    for (int cap = 0; cap <= *last; ++cap)
      if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) victim = cap;
    if (victim < 0) return 3;
    auto r = DropBoundingSet(KernelCapMask(*last) & ~(uint64_t{1} << victim), *last);
    if (r) return 4;
    Say(out, r.error().message());
    return 0;
  });
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_THAT(c.out, HasSubstr("needs CAP_SETPCAP"));
}

}  // namespace
}  // namespace moor::runtime::process
