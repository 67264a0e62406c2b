#include "net/recording_netlink.h"

#include <gtest/gtest.h>

namespace moor::net {
namespace {

TEST(RecordingNetlink, RecordsCallsAndTracksLinks) {
  RecordingNetlink nl;
  uint32_t gw = *ParseIpv4("172.30.0.1");
  ASSERT_TRUE(nl.EnsureBridge("moor0", gw, 16, 1500));
  ASSERT_TRUE(nl.CreateVethInNetns("vethab", "tmpab", "moor0", 7, "eth0", gw + 1, 16, gw, 1500));
  EXPECT_TRUE(*nl.LinkExists("vethab"));
  EXPECT_EQ(*nl.LinksWithPrefix("veth"), std::vector<std::string>{"vethab"});
  // As the real one: a taken host name or a missing bridge fails.
  EXPECT_FALSE(nl.CreateVethInNetns("vethab", "tmpab", "moor0", 7, "eth0", gw + 2, 16, gw, 1500));
  EXPECT_FALSE(nl.CreateVethInNetns("vethcd", "tmpcd", "nobr", 7, "eth0", gw + 2, 16, gw, 1500));
  ASSERT_TRUE(nl.DeleteLink("vethab"));
  EXPECT_FALSE(*nl.LinkExists("vethab"));
  std::vector<std::string> calls = nl.Calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[0], "EnsureBridge moor0 172.30.0.1/16 mtu=1500");
  EXPECT_EQ(calls[1],
            "CreateVethInNetns vethab peer=tmpab bridge=moor0 netns=7 name=eth0 addr=172.30.0.2/16 "
            "gw=172.30.0.1 mtu=1500");
  EXPECT_EQ(nl.Count("CreateVethInNetns"), 3u);
}

TEST(RecordingNetlink, InjectedFailureChangesNothing) {
  RecordingNetlink nl;
  nl.FailOn("EnsureBridge");
  auto r = nl.EnsureBridge("moor0", 1, 16, 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("injected failure: EnsureBridge moor0"), std::string::npos);
  EXPECT_TRUE(nl.Links().empty());
  nl.FailOn("");
  EXPECT_TRUE(nl.EnsureBridge("moor0", 1, 16, 0));
  EXPECT_EQ(nl.Links(), std::set<std::string>{"moor0"});
}

}  // namespace
}  // namespace moor::net
