// nftables state is per network namespace: every test runs in its own.
#include "net/nat.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/file.h"
#include "common/strings.h"
#include "net/private_netns_testing.h"

namespace moor::net {
namespace {

using testing::RunInPrivateNetns;

size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class NatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root";
    }
  }
};

TEST_F(NatTest, EnsureIsIdempotentAndRemoveRemoves) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    Subnet a = *ParseSubnet("172.30.0.0/16");
    Subnet b = *ParseSubnet("10.77.0.0/24");
    CHILD_OK(RemoveMasquerade(a));  // no table yet: nothing to do
    CHILD_OK(EnsureMasquerade(a, "moor0"));
    CHILD_OK(EnsureMasquerade(a, "moor0"));
    std::string rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, "masquerade") == 1, rules);
    CHILD_EXPECT(rules.find("type nat hook postrouting") != std::string::npos, rules);
    CHILD_EXPECT(rules.find("ip saddr 172.30.0.0/16 oifname != \"moor0\" masquerade comment "
                            "\"moor:172.30.0.0/16\"") != std::string::npos,
                 rules);

    CHILD_OK(EnsureMasquerade(b, "moor1"));
    rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, "masquerade") == 2, rules);

    // Same subnet on another bridge: the rule is replaced, not duplicated.
    CHILD_OK(EnsureMasquerade(a, "moor2"));
    rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, "masquerade") == 2, rules);
    CHILD_EXPECT(rules.find("\"moor2\"") != std::string::npos && rules.find("\"moor0\"") == std::string::npos,
                 rules);

    CHILD_OK(RemoveMasquerade(a));
    rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, "masquerade") == 1, rules);
    CHILD_EXPECT(rules.find("moor:10.77.0.0/24") != std::string::npos, rules);
    CHILD_OK(RemoveMasquerade(a));  // already gone: ok
    CHILD_OK(RemoveMasquerade(b));
    rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, "masquerade") == 0, rules);
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NatTest, IsolationDropsTrafficBetweenMoorBridgesOnce) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    CHILD_OK(RemoveIsolation("moor0"));  // nothing there: fine
    CHILD_OK(EnsureIsolation("moor0"));
    CHILD_OK(EnsureIsolation("moor0"));
    CHILD_OK(EnsureIsolation("moor-abc"));
    std::string rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, " drop ") == 2, rules);
    CHILD_EXPECT(rules.find("type filter hook forward") != std::string::npos, rules);
    CHILD_EXPECT(rules.find("iifname \"moor0\" oifname \"moor*\" oifname != \"moor0\" drop") != std::string::npos,
                 rules);
    CHILD_EXPECT(!EnsureIsolation("moor\"x"), "a quote in the name is refused");
    CHILD_EXPECT(!EnsureIsolation("moor*"), "a wildcard in the name is refused");
    CHILD_OK(RemoveIsolation("moor0"));
    rules = CHILD_OK(RunNft("list ruleset"));
    CHILD_EXPECT(CountOf(rules, " drop ") == 1 && rules.find("moor-isolate:moor-abc") != std::string::npos, rules);
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NatTest, RejectsBadBridgeNamesAndReportsNftErrors) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    Subnet a = *ParseSubnet("172.30.0.0/16");
    auto bad = EnsureMasquerade(a, "x\" accept; #");
    CHILD_EXPECT(!bad && bad.error().message().find("invalid bridge name") != std::string::npos,
                 bad ? "accepted" : bad.error().message());
    CHILD_EXPECT(CHILD_OK(RunNft("list ruleset")).find("masquerade") == std::string::npos, "rule added");
    auto syntax = RunNft("this is not nft");
    CHILD_EXPECT(!syntax, "nonsense accepted");
    CHILD_EXPECT(StartsWith(syntax.error().message(), "nftables: "), syntax.error().message());
    CHILD_EXPECT(syntax.error().message().find('\n') == std::string::npos, syntax.error().message());
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NatTest, EnableIpForwardInOwnNamespace) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    // A fresh namespace starts with forwarding off.
    CHILD_OK(WriteExisting("/proc/sys/net/ipv4/ip_forward", "0"));
    CHILD_OK(EnableIpForward());
    CHILD_EXPECT(Trim(CHILD_OK(ReadFile("/proc/sys/net/ipv4/ip_forward"))) == "1", "still off");
    CHILD_OK(EnableIpForward());
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

}  // namespace
}  // namespace moor::net
