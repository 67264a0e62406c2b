#include "runtime_cli/args.h"

#include <gtest/gtest.h>

namespace moor::runtime_cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"bundle", "b", true, false}, {"detach", "d", false, false}, {"env", "e", true, true}};

TEST(ParseArgs, LongShortEqualsAndBooleans) {
  auto r = ParseArgs({"--bundle", "/b", "-d", "--env=A=1", "-e", "B=2", "id"}, 0, kSpecs, true);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->Get("bundle"), "/b");
  EXPECT_TRUE(r->Bool("detach"));
  EXPECT_EQ(r->All("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(r->positional, (std::vector<std::string>{"id"}));
}

TEST(ParseArgs, StopsAtFirstPositional) {
  auto r = ParseArgs({"-d", "id", "sh", "-c", "echo hi"}, 0, kSpecs, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->positional, (std::vector<std::string>{"id", "sh", "-c", "echo hi"}));
}

TEST(ParseArgs, DoubleDashEndsFlags) {
  auto r = ParseArgs({"--", "-d"}, 0, kSpecs, false);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->Has("detach"));
  EXPECT_EQ(r->positional, (std::vector<std::string>{"-d"}));
}

TEST(ParseArgs, ErrorsNameTheFlag) {
  auto r = ParseArgs({"--nope"}, 0, kSpecs, true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "unknown flag \"--nope\"; see --help");
  auto r2 = ParseArgs({"--bundle"}, 0, kSpecs, true);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(), "flag \"--bundle\" needs a value");
}

TEST(ParseArgs, BoolFalseValue) {
  auto r = ParseArgs({"--detach=false"}, 0, kSpecs, true);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->Bool("detach"));
}

}  // namespace
}  // namespace moor::runtime_cli
