#include "timer_lib.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace moor::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SplitCommandLine, SplitsOnBlanks) {
  auto r = SplitCommandLine("  busybox   true\tx\n");
  ASSERT_TRUE(r);
  EXPECT_THAT(*r, ElementsAre("busybox", "true", "x"));
}

TEST(SplitCommandLine, Quotes) {
  auto r = SplitCommandLine(R"(sh -c 'echo "a b"' "x\"y\\z" a\ b 'it''s')");
  ASSERT_TRUE(r);
  EXPECT_THAT(*r, ElementsAre("sh", "-c", "echo \"a b\"", "x\"y\\z", "a b", "its"));
}

TEST(SplitCommandLine, EmptyQuotedWordIsKept) {
  auto r = SplitCommandLine("printf '' x");
  ASSERT_TRUE(r);
  EXPECT_THAT(*r, ElementsAre("printf", "", "x"));
}

TEST(SplitCommandLine, Errors) {
  EXPECT_FALSE(SplitCommandLine("echo 'open"));
  EXPECT_FALSE(SplitCommandLine("echo \"open"));
  EXPECT_FALSE(SplitCommandLine("echo \\"));
  auto empty = SplitCommandLine("   ");
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message(), HasSubstr("empty command"));
}

TEST(ParseCommandArg, NameAndWords) {
  auto r = ParseCommandArg("moor=moor-runtime --root /r run b{i}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "moor");
  EXPECT_THAT(r->argv, ElementsAre("moor-runtime", "--root", "/r", "run", "b{i}"));
}

TEST(ParseCommandArg, Rejects) {
  EXPECT_FALSE(ParseCommandArg("no-equals-sign"));
  EXPECT_FALSE(ParseCommandArg("=true"));
  EXPECT_FALSE(ParseCommandArg("bad name=true"));
  EXPECT_FALSE(ParseCommandArg("x="));
}

TEST(SubstituteSeq, ReplacesEveryPlaceholder) {
  std::vector<std::string> argv{"run", "id-{i}", "{i}{i}", "plain", "{x}"};
  EXPECT_THAT(SubstituteSeq(argv, 42), ElementsAre("run", "id-42", "4242", "plain", "{x}"));
}

TEST(PlanRuns, AlternatesAfterWarmup) {
  auto plan = PlanRuns(3, 1, 2);
  ASSERT_EQ(plan.size(), 9u);
  std::vector<size_t> order;
  for (const auto& p : plan) order.push_back(p.command);
  EXPECT_THAT(order, ElementsAre(0, 1, 2, 0, 1, 2, 0, 1, 2));
  for (size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(plan[i].warmup, i < 3) << i;
}

TEST(Percentile, Interpolates) {
  EXPECT_DOUBLE_EQ(Percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile({5, 1, 3}, 50), 3);
  EXPECT_DOUBLE_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 10), 2);
  EXPECT_DOUBLE_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 90), 10);
  EXPECT_DOUBLE_EQ(Percentile({7}, 90), 7);
  EXPECT_DOUBLE_EQ(Percentile({1, 2}, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile({1, 2}, 100), 2);
}

TEST(Summarize, TakesMaxRssAndMedians) {
  std::vector<Sample> s{{10, 1, 100}, {30, 3, 300}, {20, 2, 200}};
  Summary r = Summarize("x", s);
  EXPECT_EQ(r.runs, 3u);
  EXPECT_DOUBLE_EQ(r.median_ms, 20);
  EXPECT_DOUBLE_EQ(r.cpu_median_ms, 2);
  EXPECT_EQ(r.max_rss_kib, 300);
}

TEST(ParseRatio, Forms) {
  auto r = ParseRatio("runc/moor");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->numerator, "runc");
  EXPECT_EQ(r->denominator, "moor");
  EXPECT_FALSE(ParseRatio("runc"));
  EXPECT_FALSE(ParseRatio("/moor"));
  EXPECT_FALSE(ParseRatio("runc/"));
  EXPECT_FALSE(ParseRatio("a/b/c"));
}

TEST(FormatReport, RatiosVsBaseline) {
  Summary floor{"floor", 5, 2.0, 1.5, 2.5, 1.0, 900};
  Summary runc{"runc", 5, 30.0, 28.0, 35.0, 20.0, 12000};
  auto r = FormatReport({floor, runc}, "floor", {{"runc", "floor"}}, 2, 5);
  ASSERT_TRUE(r);
  EXPECT_THAT(*r, HasSubstr("5 rounds after 2 warm-up rounds"));
  EXPECT_THAT(*r, HasSubstr("vs floor"));
  EXPECT_THAT(*r, HasSubstr("15.00x"));
  EXPECT_THAT(*r, HasSubstr("12000"));
  EXPECT_THAT(*r, HasSubstr("ratio runc/floor: 15.00x"));
}

TEST(FormatReport, UnknownNames) {
  Summary a{"a", 1, 1, 1, 1, 1, 1};
  EXPECT_FALSE(FormatReport({a}, "nope", {}, 0, 1));
  EXPECT_FALSE(FormatReport({a}, "a", {{"a", "nope"}}, 0, 1));
}

}  // namespace
}  // namespace moor::bench
