#include "net/subnet.h"

#include <gtest/gtest.h>

namespace moor::net {
namespace {

TEST(ParseIpv4, AcceptsDottedQuads) {
  EXPECT_EQ(*ParseIpv4("10.0.0.1"), 0x0a000001u);
  EXPECT_EQ(*ParseIpv4("255.255.255.255"), 0xffffffffu);
  EXPECT_EQ(*ParseIpv4("0.0.0.0"), 0u);
  EXPECT_EQ(*ParseIpv4("172.30.4.200"), 0xac1e04c8u);
}

TEST(ParseIpv4, RejectsAnythingElse) {
  for (const char* bad :
       {"", "10.0.0", "10.0.0.1.2", "10.0.0.256", "10.0.0.-1", "10..0.1", "10.0.0.1 ", " 10.0.0.1",
        "010.0.0.1", "a.b.c.d", "10.0.0.1/8", "::1", "1000.0.0.1", "10.0.0."}) {
    auto r = ParseIpv4(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message().find("10.0.0.1"), std::string::npos) << r.error().message();
    }
  }
}

TEST(FormatIpv4, RoundTrips) {
  EXPECT_EQ(FormatIpv4(0xac1e04c8u), "172.30.4.200");
  EXPECT_EQ(FormatIpv4(0), "0.0.0.0");
  EXPECT_EQ(FormatIpv4(*ParseIpv4("192.168.1.254")), "192.168.1.254");
}

TEST(ParseSubnet, AcceptsCidr) {
  auto s = ParseSubnet("172.30.0.0/16");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->base, 0xac1e0000u);
  EXPECT_EQ(s->prefix, 16);
  EXPECT_EQ(s->Mask(), 0xffff0000u);
  EXPECT_EQ(s->ToString(), "172.30.0.0/16");
  EXPECT_EQ(FormatIpv4(s->Gateway()), "172.30.0.1");
  EXPECT_EQ(FormatIpv4(s->FirstHost()), "172.30.0.2");
  EXPECT_EQ(FormatIpv4(s->LastHost()), "172.30.255.254");
  EXPECT_TRUE(s->Contains(*ParseIpv4("172.30.9.9")));
  EXPECT_FALSE(s->Contains(*ParseIpv4("172.31.0.1")));
}

TEST(ParseSubnet, PrefixBounds) {
  auto eight = ParseSubnet("10.0.0.0/8");
  ASSERT_TRUE(eight);
  EXPECT_EQ(FormatIpv4(eight->LastHost()), "10.255.255.254");
  auto thirty = ParseSubnet("192.168.7.4/30");
  ASSERT_TRUE(thirty);
  // /30: network, gateway, one container, broadcast.
  EXPECT_EQ(FormatIpv4(thirty->Gateway()), "192.168.7.5");
  EXPECT_EQ(FormatIpv4(thirty->FirstHost()), "192.168.7.6");
  EXPECT_EQ(FormatIpv4(thirty->LastHost()), "192.168.7.6");
  for (const char* bad : {"10.0.0.0/7", "0.0.0.0/0", "192.168.7.0/31", "192.168.7.1/32", "10.0.0.0/33"}) {
    auto r = ParseSubnet(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("between 8 and 30"), std::string::npos) << r.error().message();
  }
}

TEST(ParseSubnet, HostBitsSetSuggestsTheNetwork) {
  auto r = ParseSubnet("172.30.0.1/16");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("172.30.0.1/16"), std::string::npos);
  EXPECT_NE(r.error().message().find("did you mean 172.30.0.0/16"), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
}

TEST(ParseSubnet, RejectsMalformed) {
  for (const char* bad :
       {"", "172.30.0.0", "172.30.0.0/", "/16", "172.30.0.0/+16", "172.30.0.0/-16", "172.30.0.0/16/8",
        "172.30.0.0/1x", "172.30.0/16", "fd00::/64", "172.30.0.0 /16", "172.30.0.0/ 16"}) {
    auto r = ParseSubnet(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().errnum(), EINVAL);
    EXPECT_NE(r.error().message().find("expected an IPv4 CIDR"), std::string::npos) << r.error().message();
  }
}

Subnet S(const char* text) {
  return *ParseSubnet(text);
}

TEST(Overlaps, DetectsContainmentBothWays) {
  EXPECT_TRUE(Overlaps(S("172.30.0.0/16"), S("172.30.5.0/24")));
  EXPECT_TRUE(Overlaps(S("172.30.5.0/24"), S("172.30.0.0/16")));
  EXPECT_TRUE(Overlaps(S("10.0.0.0/8"), S("10.0.0.0/8")));
  EXPECT_TRUE(Overlaps(S("10.0.0.0/8"), S("10.255.255.252/30")));
  EXPECT_FALSE(Overlaps(S("172.30.0.0/16"), S("172.31.0.0/16")));
  EXPECT_FALSE(Overlaps(S("192.168.1.0/24"), S("192.168.2.0/24")));
  EXPECT_FALSE(Overlaps(S("192.168.1.0/30"), S("192.168.1.4/30")));
  EXPECT_FALSE(Overlaps(S("11.0.0.0/8"), S("10.0.0.0/8")));
}

}  // namespace
}  // namespace moor::net
