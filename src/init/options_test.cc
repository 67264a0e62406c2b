#include "init/options.h"

#include <gtest/gtest.h>

namespace moor::init {
namespace {

using std::chrono::milliseconds;
using Args = std::vector<std::string>;

TEST(InitOptions, DefaultsForwardToGroupWithoutGrace) {
  auto p = ParseArgs({"sh", "-c", "exit 7"});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->command, Command::kRun);
  EXPECT_EQ(p->options.argv, (Args{"sh", "-c", "exit 7"}));
  EXPECT_TRUE(p->options.group);
  EXPECT_FALSE(p->options.subreaper);
  EXPECT_FALSE(p->options.verbose);
  EXPECT_FALSE(p->options.grace);
}

TEST(InitOptions, OptionsStopAtDoubleDashAndFirstProgram) {
  auto p = ParseArgs({"-s", "--", "-weird-name", "-v"});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->options.subreaper);
  EXPECT_FALSE(p->options.verbose);
  EXPECT_EQ(p->options.argv, (Args{"-weird-name", "-v"}));

  p = ParseArgs({"-v", "php-fpm", "-F", "--grace", "3"});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->options.verbose);
  EXPECT_FALSE(p->options.grace);
  EXPECT_EQ(p->options.argv, (Args{"php-fpm", "-F", "--grace", "3"}));
}

TEST(InitOptions, ShortFlagsBundleAndLongFormsWork) {
  auto p = ParseArgs({"-sv", "--no-group", "--grace=1.5", "app"});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->options.subreaper);
  EXPECT_TRUE(p->options.verbose);
  EXPECT_FALSE(p->options.group);
  EXPECT_EQ(p->options.grace, milliseconds(1500));

  p = ParseArgs({"--subreaper", "--verbose", "--no-group", "-g", "--grace", "10", "app"});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->options.subreaper);
  EXPECT_TRUE(p->options.verbose);
  EXPECT_TRUE(p->options.group);  // the last of --no-group / -g wins
  EXPECT_EQ(p->options.grace, milliseconds(10000));
}

TEST(InitOptions, HelpAndVersionNeedNoProgram) {
  EXPECT_EQ(ParseArgs({"--version"})->command, Command::kVersion);
  EXPECT_EQ(ParseArgs({"-h"})->command, Command::kHelp);
  EXPECT_EQ(ParseArgs({"--help", "x"})->command, Command::kHelp);
}

TEST(InitOptions, UsageErrorsAreOneLineAndSayWhatToDo) {
  struct Case {
    Args args;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "no program given"},
           {{"-s"}, "no program given"},
           {{"-s", "--"}, "no program given"},
           {{"-x", "app"}, "unknown option \"-x\""},
           {{"-sx", "app"}, "unknown option \"-x\""},
           {{"--bogus", "app"}, "unknown option \"--bogus\""},
           {{"--grace"}, "--grace needs a value"},
           {{"--grace", "soon", "app"}, "invalid --grace \"soon\""},
           {{"--", ""}, "program name is empty"},
       }) {
    auto p = ParseArgs(c.args);
    ASSERT_FALSE(p) << "args: " << c.args.size();
    EXPECT_NE(p.error().message().find(c.expect), std::string::npos) << p.error().message();
    EXPECT_EQ(p.error().message().find('\n'), std::string::npos) << p.error().message();
  }
}

TEST(InitOptions, ParseSecondsAcceptsUpToMilliseconds) {
  EXPECT_EQ(ParseSeconds("0"), milliseconds(0));
  EXPECT_EQ(ParseSeconds("10"), milliseconds(10000));
  EXPECT_EQ(ParseSeconds("0.5"), milliseconds(500));
  EXPECT_EQ(ParseSeconds("2.05"), milliseconds(2050));
  EXPECT_EQ(ParseSeconds("1.125"), milliseconds(1125));
  for (const char* bad : {"", "-1", "+1", "1.", ".5", "1.2345", "1e3", "abc", "1.5s", "1000001"}) {
    EXPECT_FALSE(ParseSeconds(bad)) << bad;
  }
}

}  // namespace
}  // namespace moor::init
