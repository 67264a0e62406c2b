#include "discovery/types.h"

#include <gtest/gtest.h>

namespace moor::discovery {
namespace {

TEST(TypesTest, HealthNamesRoundTrip) {
  for (Health h : {Health::kPassing, Health::kWarning, Health::kCritical}) {
    auto back = ParseHealth(HealthName(h));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, h);
  }
  EXPECT_EQ(HealthName(Health::kWarning), "warning");
  EXPECT_FALSE(ParseHealth("Passing").has_value());
  EXPECT_FALSE(ParseHealth("").has_value());
}

TEST(TypesTest, SanitizeServiceName) {
  EXPECT_EQ(SanitizeServiceName("php-fpm"), "php-fpm");
  EXPECT_EQ(SanitizeServiceName("My_Web.App"), "my-web-app");
  EXPECT_EQ(SanitizeServiceName("--a__b--"), "a-b");
  EXPECT_EQ(SanitizeServiceName("a - b"), "a-b");
  EXPECT_EQ(SanitizeServiceName("___"), "");
  EXPECT_EQ(SanitizeServiceName(""), "");
  EXPECT_EQ(SanitizeServiceName("ünïcode"), "n-code");
  // 63 bytes at most, never ending in '-' after the cut.
  std::string longname(62, 'a');
  EXPECT_EQ(SanitizeServiceName(longname + "-bbb"), longname);
  EXPECT_EQ(SanitizeServiceName(std::string(100, 'x')).size(), 63u);
}

}  // namespace
}  // namespace moor::discovery
