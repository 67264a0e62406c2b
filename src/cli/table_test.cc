#include "cli/table.h"

#include <gtest/gtest.h>

#include "cli/context.h"
#include "common/clock.h"

namespace moor::cli {
namespace {

TEST(Table, AlignsColumnsWithoutTrailingSpaces) {
  Table t({"REPOSITORY", "TAG"});
  t.Add({"busybox", "latest"});
  t.Add({"localhost:5000/app", "1"});
  EXPECT_EQ(t.Render(),
            "REPOSITORY           TAG\n"
            "busybox              latest\n"
            "localhost:5000/app   1\n");
}

TEST(Table, CountsUtf8CharactersNotBytes) {
  Table t({"A", "B"});
  t.Add({"x…", "y"});
  EXPECT_EQ(t.Render(), "A    B\nx…   y\n");
}

TEST(HumanSize, UsesDecimalUnitsLikeDocker) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(4'260'000), "4.26MB");
  EXPECT_EQ(HumanSize(276'000'000), "276MB");
  EXPECT_EQ(HumanSize(1'500'000'000), "1.5GB");
}

TEST(Ago, ReadsRfc3339AndRejectsGarbage) {
  EXPECT_EQ(Ago(Rfc3339FromUnix(time(nullptr) - 180)), "3 minutes ago");
  EXPECT_EQ(Ago(Rfc3339FromUnix(time(nullptr) - 2 * 3600)), "2 hours ago");
  EXPECT_EQ(Ago("yesterday"), "N/A");
}

TEST(ParseCommand, ExpandsBundledBoolFlagsOnlyBeforeThePositional) {
  std::vector<FlagSpec> specs = {{"interactive", "i", false, false},
                                 {"tty", "t", false, false},
                                 {"env", "e", true, true}};
  auto a = ParseCommand({"-e", "A=1", "-it", "img", "sh", "-it"}, specs, true);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  EXPECT_TRUE(a->Bool("interactive"));
  EXPECT_TRUE(a->Bool("tty"));
  EXPECT_EQ(a->All("env"), std::vector<std::string>{"A=1"});
  EXPECT_EQ(a->positional, (std::vector<std::string>{"img", "sh", "-it"}));
}

TEST(ParseCommand, UnknownFlagIsAnError) {
  auto a = ParseCommand({"--bogus"}, {});
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.error().message().find("--bogus"), std::string::npos);
}

}  // namespace
}  // namespace moor::cli
