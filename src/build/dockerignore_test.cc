#include "build/dockerignore.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/file.h"

namespace moor::build {
namespace {

bool Ex(const std::vector<std::string>& patterns, std::string_view path) {
  auto m = IgnoreMatcher::FromPatterns(patterns);
  EXPECT_TRUE(m.has_value());
  return m && m->Excluded(path);
}

TEST(CleanPath, LikeGo) {
  EXPECT_EQ(CleanPath("a/b/../c"), "a/c");
  EXPECT_EQ(CleanPath("./a//b/"), "a/b");
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("/../a"), "/a");
  EXPECT_EQ(CleanPath("../../a"), "../../a");
  EXPECT_EQ(CleanPath("a/../.."), "..");
  EXPECT_EQ(CleanPath("/"), "/");
}

TEST(GlobMatch, LikeFilepathMatch) {
  EXPECT_TRUE(GlobMatch("*.go", "main.go"));
  EXPECT_FALSE(GlobMatch("*.go", "dir/main.go"));
  EXPECT_TRUE(GlobMatch("*/*.go", "dir/main.go"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "a/c"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_FALSE(GlobMatch("[a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("[^a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("[a-", "a"));
  EXPECT_TRUE(GlobMatch("file*", "file"));
  EXPECT_TRUE(GlobMatch("*x*y", "axbxy"));
}

TEST(IgnoreMatcher, SimpleNamesAndParents) {
  EXPECT_TRUE(Ex({"node_modules"}, "node_modules"));
  EXPECT_TRUE(Ex({"node_modules"}, "node_modules/a/b.js"));
  EXPECT_FALSE(Ex({"node_modules"}, "src/node_modules"));
  EXPECT_FALSE(Ex({"node_modules"}, "node_modules2"));
  EXPECT_TRUE(Ex({"/tmp"}, "tmp/x"));  // leading "/" dropped
  EXPECT_TRUE(Ex({"./a/../b"}, "b"));  // cleaned
}

TEST(IgnoreMatcher, Globs) {
  EXPECT_TRUE(Ex({"*.md"}, "README.md"));
  EXPECT_FALSE(Ex({"*.md"}, "docs/x.md"));
  EXPECT_TRUE(Ex({"*/*.md"}, "docs/x.md"));
  EXPECT_TRUE(Ex({"temp?"}, "temp1"));
  EXPECT_FALSE(Ex({"temp?"}, "temp12"));
  EXPECT_TRUE(Ex({"*"}, "anything/at/all"));  // matches the top dir, so everything below
}

TEST(IgnoreMatcher, DoubleStar) {
  EXPECT_TRUE(Ex({"**/*.go"}, "a.go"));
  EXPECT_TRUE(Ex({"**/*.go"}, "x/y/a.go"));
  EXPECT_FALSE(Ex({"**/*.go"}, "x/y/a.goo"));
  EXPECT_TRUE(Ex({"a/**"}, "a/b/c"));
  EXPECT_TRUE(Ex({"a/**/z"}, "a/z"));
  EXPECT_TRUE(Ex({"a/**/z"}, "a/b/c/z"));
  EXPECT_FALSE(Ex({"a/**/z"}, "b/a/z"));
  EXPECT_TRUE(Ex({"**"}, "x"));
  EXPECT_TRUE(Ex({"**.txt"}, "d/.txt"));  // "**" without "/" is "(.*/)?", as Docker compiles it
}

TEST(IgnoreMatcher, ExceptionsLastMatchWins) {
  EXPECT_FALSE(Ex({"*.md", "!README.md"}, "README.md"));
  EXPECT_TRUE(Ex({"*.md", "!README.md"}, "CHANGES.md"));
  EXPECT_TRUE(Ex({"*.md", "!README.md", "README.md"}, "README.md"));
  EXPECT_FALSE(Ex({"docs", "!docs/keep"}, "docs/keep"));
  EXPECT_FALSE(Ex({"docs", "!docs/keep"}, "docs/keep/x"));
  EXPECT_TRUE(Ex({"docs", "!docs/keep"}, "docs/other"));
  EXPECT_FALSE(Ex({"!x"}, "x"));
}

TEST(IgnoreMatcher, CommentsBlanksAndSpaces) {
  EXPECT_FALSE(Ex({"# secret", "", "   "}, "# secret"));
  EXPECT_TRUE(Ex({"  spaced  "}, "spaced"));
  EXPECT_TRUE(Ex({" # not a comment"}, "# not a comment"));  // only a '#' in column 1 comments
}

TEST(IgnoreMatcher, BadPatterns) {
  auto bang = IgnoreMatcher::FromPatterns({"!"});
  ASSERT_FALSE(bang);
  EXPECT_EQ(bang.error().message(), ".dockerignore: illegal exclusion pattern: \"!\"");
  EXPECT_FALSE(IgnoreMatcher::FromPatterns({"[a-"}));
  EXPECT_FALSE(IgnoreMatcher::FromPatterns({"abc\\"}));
}

TEST(IgnoreMatcher, SpecialCharactersAreLiteral) {
  EXPECT_TRUE(Ex({"a+b(c).txt"}, "a+b(c).txt"));
  EXPECT_FALSE(Ex({"a.txt"}, "abtxt"));
  EXPECT_TRUE(Ex({"{x}$"}, "{x}$"));
}

TEST(IgnoreMatcher, ContextKeepsDockerfileAndIgnoreFile) {
  char tmpl[] = "/tmp/moor-ignore-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  { std::ofstream(dir + "/.dockerignore") << "*\n!src\n"; }
  auto m = IgnoreMatcher::ForContext(dir, "build/Dockerfile.dev");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_FALSE(m->Excluded(".dockerignore"));
  EXPECT_FALSE(m->Excluded("build/Dockerfile.dev"));
  EXPECT_TRUE(m->Excluded("build/other"));
  EXPECT_FALSE(m->Excluded("src/main.c"));
  EXPECT_TRUE(m->Excluded("secret"));
  auto none = IgnoreMatcher::ForContext("/nonexistent-moor-dir", "Dockerfile");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->Excluded("x"));
  ASSERT_TRUE(RemoveAll(dir));
}

}  // namespace
}  // namespace moor::build
