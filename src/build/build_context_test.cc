#include "build/build_context.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/file.h"

namespace moor::build {
namespace {

class BuildContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-ctx-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    dir_ = top_ + "/ctx";
    ASSERT_TRUE(MkdirAll(dir_ + "/src/sub"));
    Write("Dockerfile", "FROM scratch\n");
    Write("a.txt", "a");
    Write("b.txt", "b");
    Write("src/main.c", "int main;");
    Write("src/sub/deep.c", "deep");
    Write("src/skip.o", "obj");
    Write("../outside", "secret");
    ASSERT_EQ(symlink("../outside", (dir_ + "/escape").c_str()), 0);
    ASSERT_EQ(symlink("/etc/passwd", (dir_ + "/absolute").c_str()), 0);
    ASSERT_EQ(symlink("a.txt", (dir_ + "/link-to-a").c_str()), 0);
    ASSERT_EQ(symlink("../a.txt", (dir_ + "/src/rel-link").c_str()), 0);
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(top_)); }

  void Write(const std::string& rel, const std::string& content) {
    std::ofstream(dir_ + "/" + rel) << content;
  }
  BuildContext Open() {
    auto c = BuildContext::Open(dir_, "Dockerfile");
    EXPECT_TRUE(c) << c.error().message();
    return std::move(*c);
  }
  std::vector<std::string> Dests(const CopyPlan& p) {
    std::vector<std::string> out;
    for (const auto& e : p.entries) out.push_back(e.dest);
    return out;
  }
  std::string Err(const std::vector<std::string>& srcs, std::string_view dest = "/x/") {
    auto ctx = Open();
    auto p = ctx.PlanCopy(srcs, dest, "COPY");
    EXPECT_FALSE(p);
    return p ? "" : p.error().message();
  }

  std::string top_, dir_;
};

TEST_F(BuildContextTest, SingleFileToPathOrDirectory) {
  auto ctx = Open();
  auto p = ctx.PlanCopy({"a.txt"}, "/dst", "COPY");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_FALSE(p->dest_is_dir);
  EXPECT_EQ(Dests(*p), std::vector<std::string>{""});
  auto q = ctx.PlanCopy({"/a.txt"}, "/dst/", "COPY");
  ASSERT_TRUE(q);
  EXPECT_EQ(Dests(*q), std::vector<std::string>{"a.txt"});
  EXPECT_EQ(q->entries[0].content, image::Sha256Of("a"));
  EXPECT_NE(p->digest, q->digest);
}

TEST_F(BuildContextTest, DirectoryContentsWithIgnore) {
  Write(".dockerignore", "**/*.o\n");
  auto ctx = Open();
  auto p = ctx.PlanCopy({"src"}, "/app", "COPY");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(Dests(*p), (std::vector<std::string>{"", "main.c", "rel-link", "sub", "sub/deep.c"}));
  EXPECT_EQ(p->entries[2].kind, EntryKind::kSymlink);
  EXPECT_EQ(p->entries[2].link_target, "../a.txt");
  EXPECT_EQ(p->entries[3].kind, EntryKind::kDir);
}

TEST_F(BuildContextTest, WholeContextKeepsDockerfile) {
  Write(".dockerignore", "Dockerfile\nsrc\n*.txt\n!b.txt\nescape\nabsolute\nlink-to-a\n");
  auto ctx = Open();
  auto p = ctx.PlanCopy({"."}, "/app/", "COPY");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(Dests(*p), (std::vector<std::string>{"", ".dockerignore", "Dockerfile", "b.txt"}));
}

TEST_F(BuildContextTest, Wildcards) {
  auto ctx = Open();
  auto p = ctx.PlanCopy({"*.txt"}, "/d/", "COPY");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(Dests(*p), (std::vector<std::string>{"a.txt", "b.txt"}));
  auto deep = ctx.PlanCopy({"src/*/*.c"}, "/d/", "COPY");
  ASSERT_TRUE(deep);
  EXPECT_EQ(Dests(*deep), (std::vector<std::string>{"deep.c"}));
  EXPECT_EQ(Err({"*.nothing"}), "COPY failed: no source files were specified (no file matches *.nothing)");
  EXPECT_EQ(
      Err({"*.txt"}, "/single"),
      "COPY failed: when using COPY with more than one source file, the destination must be a directory "
      "and end with a /");
}

TEST_F(BuildContextTest, EscapesAreRefused) {
  EXPECT_EQ(Err({"../outside"}), "COPY failed: forbidden path outside the build context: ../outside");
  EXPECT_EQ(Err({"src/../../outside"}),
            "COPY failed: forbidden path outside the build context: src/../../outside");
  EXPECT_EQ(Err({"escape"}), "COPY failed: forbidden path outside the build context: escape");
  EXPECT_EQ(Err({"absolute"}), "COPY failed: forbidden path outside the build context: absolute");
}

TEST_F(BuildContextTest, TopLevelSymlinkIsFollowedInside) {
  auto ctx = Open();
  auto p = ctx.PlanCopy({"link-to-a"}, "/x", "COPY");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->entries[0].kind, EntryKind::kFile);
  EXPECT_EQ(p->entries[0].content, image::Sha256Of("a"));
}

TEST_F(BuildContextTest, MissingAndIgnoredSources) {
  EXPECT_EQ(Err({"nope"}), "COPY failed: file not found in build context or excluded by .dockerignore: nope");
  Write(".dockerignore", "a.txt\n");
  EXPECT_EQ(Err({"a.txt"}),
            "COPY failed: file not found in build context or excluded by .dockerignore: a.txt");
}

TEST_F(BuildContextTest, DigestFollowsContentAndMode) {
  auto ctx = Open();
  auto d1 = ctx.PlanCopy({"src"}, "/app", "COPY")->digest;
  EXPECT_EQ(ctx.PlanCopy({"src"}, "/app", "COPY")->digest, d1);
  Write("src/main.c", "int main2;");
  auto d2 = ctx.PlanCopy({"src"}, "/app", "COPY")->digest;
  EXPECT_NE(d1, d2);
  ASSERT_EQ(chmod((dir_ + "/src/main.c").c_str(), 0700), 0);
  EXPECT_NE(ctx.PlanCopy({"src"}, "/app", "COPY")->digest, d2);
}

}  // namespace
}  // namespace moor::build
