#include "common/strings.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace moor {
namespace {

TEST(Strings, SplitKeepsEmptyFields) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string>{""}));
}

TEST(Strings, JsonQuoteEscapesControlAndQuotes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(Strings, ParseIntRejectsTrailingGarbage) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_FALSE(ParseInt("42x"));
  EXPECT_FALSE(ParseInt(""));
  EXPECT_FALSE(ParseUint("-1"));
}

TEST(Strings, ParseByteSizeUnits) {
  EXPECT_EQ(ParseByteSize("512"), 512);
  EXPECT_EQ(ParseByteSize("64k"), 64 * 1024);
  EXPECT_EQ(ParseByteSize("128M"), 128 * 1024 * 1024);
  EXPECT_EQ(ParseByteSize("1gb"), int64_t{1} << 30);
  EXPECT_EQ(ParseByteSize("-1"), -1);
  EXPECT_FALSE(ParseByteSize("12x"));
  EXPECT_FALSE(ParseByteSize("m"));
  EXPECT_FALSE(ParseByteSize("99999999999999999t"));
}

Result<int> Half(int v) {
  if (v % 2) return FailInvalid("odd value " + std::to_string(v));
  return v / 2;
}
Result<int> Quarter(int v) {
  int h = TRY_CTX(Half(v), "quarter");
  return TRY(Half(h));
}

TEST(Error, TryPropagatesWithContext) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "odd value 3");
  auto r2 = Quarter(5);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(), "quarter: odd value 5");
  EXPECT_EQ(r2.error().errnum(), EINVAL);
}

TEST(Error, FromErrnoNamesTheCause) {
  Error e = Error::FromErrno(ENOENT, "open /x");
  EXPECT_EQ(e.message(), "open /x: No such file or directory");
  EXPECT_EQ(e.errnum(), ENOENT);
}

TEST(ParseDurationNs, GoSyntax) {
  EXPECT_EQ(ParseDurationNs("0"), 0);
  EXPECT_EQ(ParseDurationNs("300ms"), 300'000'000);
  EXPECT_EQ(ParseDurationNs("1m30s"), 90'000'000'000);
  EXPECT_EQ(ParseDurationNs("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(ParseDurationNs("2us"), 2'000);
  EXPECT_EQ(ParseDurationNs("\u00b5s"), std::nullopt);  // a unit without a number
  for (const char* bad : {"", "10", "s", "1x", "1..2s", "-1s", "1e3s", "99999999999h"}) {
    EXPECT_EQ(ParseDurationNs(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace moor
