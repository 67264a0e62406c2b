#include "common/json_escape.h"

#include <gtest/gtest.h>

namespace moor {
namespace {

// Decodes every escape of a JSON string body (what follows each backslash).
std::string Decode(std::string_view body, bool* ok) {
  std::string out;
  size_t i = 0;
  *ok = true;
  while (i < body.size()) {
    if (body[i] != '\\') {
      out += body[i++];
      continue;
    }
    ++i;
    if (!AppendJsonEscape(body, &i, &out)) {
      *ok = false;
      return out;
    }
  }
  return out;
}

TEST(JsonEscape, EveryEscapeJsonHas) {
  bool ok;
  EXPECT_EQ(Decode(R"(a\"b\\c\/d\be\ff\ng\rh\ti)", &ok), "a\"b\\c/d\be\ff\ng\rh\ti");
  EXPECT_TRUE(ok);
  EXPECT_EQ(Decode(R"(\u0041\u00e9\u20ac)", &ok), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_TRUE(ok);
  EXPECT_EQ(Decode(R"(\uD83D\uDE00)", &ok), "\xf0\x9f\x98\x80");  // a surrogate pair: one emoji
  EXPECT_TRUE(ok);
}

TEST(JsonEscape, LoneSurrogatesBecomeTheReplacementCharacter) {
  bool ok;
  EXPECT_EQ(Decode(R"(\uD83Dx)", &ok), "\xef\xbf\xbdx");
  EXPECT_TRUE(ok);
  EXPECT_EQ(Decode(R"(\uDE00)", &ok), "\xef\xbf\xbd");
  EXPECT_TRUE(ok);
  EXPECT_EQ(Decode(R"(\uD83D\u0041)", &ok), "\xef\xbf\xbd" "A");  // high then not low: both kept apart
  EXPECT_TRUE(ok);
}

TEST(JsonEscape, BadEscapesFail) {
  for (std::string_view bad : {R"(\x)", R"(\u12)", R"(\u12G4)", R"(\)", R"(\U0041)"}) {
    bool ok;
    Decode(bad, &ok);
    EXPECT_FALSE(ok) << bad;
  }
}

}  // namespace
}  // namespace moor
