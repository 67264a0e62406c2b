#include "build/shell_words.h"

#include <gtest/gtest.h>

namespace moor::build {
namespace {

VarMap Vars() {
  return {{"A", "apple"}, {"EMPTY", ""}, {"SP", "x  y"}, {"N", "1"}};
}

std::string W(std::string_view s, char esc = '\\') {
  VarMap v = Vars();
  auto r = WordExpander(v, esc).Word(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << (r ? "" : r.error().message());
  return r ? *r : "<error>";
}

std::string Err(std::string_view s) {
  VarMap v = Vars();
  auto r = WordExpander(v, '\\').Word(s);
  EXPECT_FALSE(r.has_value()) << s;
  return r ? "" : r.error().message();
}

TEST(WordExpander, SimpleAndBraced) {
  EXPECT_EQ(W("$A"), "apple");
  EXPECT_EQ(W("${A}"), "apple");
  EXPECT_EQ(W("x${A}y"), "xappley");
  EXPECT_EQ(W("$Ax"), "");  // the name is "Ax"
  EXPECT_EQ(W("$UNSET"), "");
  EXPECT_EQ(W("a$"), "a$");
  EXPECT_EQ(W("$-x"), "$-x");
  EXPECT_EQ(W("$1x"), "x");
}

TEST(WordExpander, Modifiers) {
  EXPECT_EQ(W("${UNSET:-def}"), "def");
  EXPECT_EQ(W("${EMPTY:-def}"), "def");
  EXPECT_EQ(W("${EMPTY-def}"), "");
  EXPECT_EQ(W("${A:-def}"), "apple");
  EXPECT_EQ(W("${A:+alt}"), "alt");
  EXPECT_EQ(W("${EMPTY:+alt}"), "");
  EXPECT_EQ(W("${EMPTY+alt}"), "alt");
  EXPECT_EQ(W("${UNSET+alt}"), "");
  EXPECT_EQ(W("${UNSET:-${A}}"), "apple");
  EXPECT_EQ(W("${UNSET:-a b}"), "a b");
  EXPECT_EQ(W("${A:?must}"), "apple");
  EXPECT_NE(Err("${UNSET:?must be set}").find("UNSET: must be set"), std::string::npos);
  EXPECT_NE(Err("${A%%x}").find("unsupported modifier"), std::string::npos);
  EXPECT_NE(Err("${A").find("bad substitution"), std::string::npos);
  EXPECT_NE(Err("${UNSET:-x").find("missing '}'"), std::string::npos);
  EXPECT_NE(Err("${}").find("bad substitution"), std::string::npos);
}

TEST(WordExpander, QuotesAndEscapes) {
  EXPECT_EQ(W("'$A'"), "$A");
  EXPECT_EQ(W("\"$A\""), "apple");
  EXPECT_EQ(W("\\$A"), "$A");
  EXPECT_EQ(W("\"\\$A\""), "$A");
  EXPECT_EQ(W("\"a\\b\""), "a\\b");  // escape kept before ordinary chars in "…"
  EXPECT_EQ(W("\"a\\\"b\""), "a\"b");
  EXPECT_EQ(W("a\\ b"), "a b");
  EXPECT_EQ(W("abc\\"), "abc");
  EXPECT_EQ(W("`$A", '`'), "$A");
  EXPECT_EQ(W("\\$A", '`'), "\\apple");
  EXPECT_NE(Err("'abc").find("single-quote"), std::string::npos);
  EXPECT_NE(Err("\"abc").find("double-quote"), std::string::npos);
}

TEST(WordExpander, WordsSplitOnUnquotedSpace) {
  VarMap v = Vars();
  WordExpander x(v, '\\');
  EXPECT_EQ(*x.Words("a  b\tc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*x.Words("\"a b\" c"), (std::vector<std::string>{"a b", "c"}));
  EXPECT_EQ(*x.Words("$SP z"), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(*x.Words("\"$SP\""), (std::vector<std::string>{"x  y"}));
  EXPECT_EQ(*x.Words("'' b"), (std::vector<std::string>{"", "b"}));
  EXPECT_TRUE(x.Words("   ")->empty());
}

TEST(WordExpander, RecordsUsedNames) {
  VarMap v = Vars();
  WordExpander x(v, '\\');
  ASSERT_TRUE(x.Word("$A ${B:-x} '$C'"));
  EXPECT_EQ(x.used(), (std::set<std::string>{"A", "B"}));
}

TEST(SplitKeepingQuotes, KeepsQuotesAndEscapes) {
  EXPECT_EQ(SplitKeepingQuotes("a=1 b=\"x y\" c='p q'", '\\'),
            (std::vector<std::string>{"a=1", "b=\"x y\"", "c='p q'"}));
  EXPECT_EQ(SplitKeepingQuotes("a=x\\ y b", '\\'), (std::vector<std::string>{"a=x\\ y", "b"}));
  EXPECT_EQ(SplitKeepingQuotes("  ", '\\'), (std::vector<std::string>{}));
  EXPECT_EQ(SplitKeepingQuotes("a=\"open", '\\'), (std::vector<std::string>{"a=\"open"}));
}

}  // namespace
}  // namespace moor::build
