#include "image/snapshot/snapshotter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "common/strings.h"
#include "image/snapshot/test_util.h"

namespace moor::image {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

Digest D(char c) {
  return Digest::FromHex(std::string(64, c));
}

// A directory holding a small layer: a/b.txt (5 bytes), c (3 bytes).
std::string MakeLayerDir(const std::string& parent, const std::string& name) {
  std::string dir = parent + "/" + name;
  EXPECT_TRUE(MkdirAll(dir + "/a"));
  EXPECT_TRUE(WriteText(dir + "/a/b.txt", "hello"));
  EXPECT_TRUE(WriteText(dir + "/c", name.substr(0, 3)));
  return dir;
}

TEST(Snapshotter, OpenCreatesLayout) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps/");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->root(), t / "snaps");
  for (const char* sub : {"sha256", "tmp", "locks"})
    EXPECT_TRUE(PathExists(t / ("snaps/" + std::string(sub))));
  EXPECT_EQ(s->Path(D('a')), t / ("snaps/sha256/" + std::string(64, 'a') + "/fs"));
  EXPECT_FALSE(s->Has(D('a')));
  EXPECT_FALSE(s->Has(Digest()));
  EXPECT_TRUE(s->List().empty());
}

TEST(Snapshotter, OpenRejectsEmptyRoot) {
  EXPECT_FALSE(Snapshotter::Open(""));
}

TEST(Snapshotter, AdoptMovesDirectoryAndWritesMeta) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  std::string dir = MakeLayerDir(t.path(), "upper");
  auto p = s->Adopt(dir, D('c'), D('d'));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(*p, s->Path(D('c')));
  EXPECT_FALSE(PathExists(dir));
  EXPECT_EQ(ReadText(*p + "/a/b.txt"), "hello");
  EXPECT_TRUE(s->Has(D('c')));
  auto meta = snapshot_internal::ReadMeta(t / ("snaps/sha256/" + std::string(64, 'c')));
  ASSERT_TRUE(meta) << meta.error().message();
  EXPECT_EQ(meta->diff_id, D('d'));
  EXPECT_TRUE(meta->blob.empty());
  EXPECT_EQ(meta->size, 8u);
  EXPECT_EQ(meta->unpacked_at.size(), 20u);  // 2024-01-02T03:04:05Z
  EXPECT_EQ(s->List(), std::vector<Digest>{D('c')});
}

TEST(Snapshotter, AdoptOfExistingChainDropsTheCopy) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Adopt(MakeLayerDir(t.path(), "first"), D('c'), D('d')));
  std::string second = MakeLayerDir(t.path(), "second");
  auto p = s->Adopt(second, D('c'), D('d'));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_FALSE(PathExists(second));
  EXPECT_EQ(ReadText(*p + "/c"), "fir");
}

TEST(Snapshotter, AdoptRejectsBadInput) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  ASSERT_TRUE(WriteText(t / "file", "x"));
  auto r = s->Adopt(t / "file", D('c'), D('d'));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a directory"), std::string::npos) << r.error().message();
  EXPECT_FALSE(s->Adopt(t / "missing", D('c'), D('d')));
  EXPECT_FALSE(s->Adopt(MakeLayerDir(t.path(), "x"), Digest(), D('d')));
  EXPECT_FALSE(s->Has(D('c')));
  EXPECT_TRUE(s->List().empty());
}

TEST(Snapshotter, ConcurrentAdoptsOfOneChainMakeOneSnapshot) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  constexpr int kThreads = 8;
  std::vector<std::string> dirs;
  for (int i = 0; i < kThreads; ++i) dirs.push_back(MakeLayerDir(t.path(), "d" + std::to_string(i)));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      if (s->Adopt(dirs[i], D('e'), D('f'))) ++ok;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(s->List(), std::vector<Digest>{D('e')});
  for (const auto& d : dirs) EXPECT_FALSE(PathExists(d)) << d;
  // Exactly one of the copies survived, intact.
  std::string c = ReadText(s->Path(D('e')) + "/c");
  EXPECT_EQ(c.substr(0, 1), "d");
  EXPECT_EQ(ReadText(s->Path(D('e')) + "/a/b.txt"), "hello");
}

TEST(Snapshotter, RemoveHandlesReadOnlyDirectories) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  std::string dir = MakeLayerDir(t.path(), "ro");
  ASSERT_TRUE(MkdirAll(dir + "/locked/deeper"));
  ASSERT_TRUE(WriteText(dir + "/locked/deeper/f", "x"));
  ASSERT_EQ(::chmod((dir + "/locked/deeper").c_str(), 0500), 0);
  ASSERT_EQ(::chmod((dir + "/locked").c_str(), 0000), 0);
  ASSERT_TRUE(s->Adopt(dir, D('1'), D('2')));
  auto r = s->Remove(D('1'));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(s->Has(D('1')));
  EXPECT_FALSE(PathExists(t / ("snaps/sha256/" + std::string(64, '1'))));
  EXPECT_TRUE(s->List().empty());
  // Nothing left behind in tmp/ either.
  EXPECT_EQ(::rmdir((t / "snaps/tmp").c_str()), 0);
}

TEST(Snapshotter, RemoveOfAbsentSnapshotSucceeds) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->Remove(D('9')));
  EXPECT_FALSE(s->Remove(Digest()));
}

TEST(Snapshotter, ListIgnoresIncompleteAndForeignEntries) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Adopt(MakeLayerDir(t.path(), "a"), D('a'), D('b')));
  ASSERT_TRUE(MkdirAll(t / ("snaps/sha256/" + std::string(64, 'b') + "/fs")));  // no meta.json
  ASSERT_TRUE(MkdirAll(t / "snaps/sha256/not-a-digest"));
  EXPECT_EQ(s->List(), std::vector<Digest>{D('a')});
  EXPECT_FALSE(s->Has(D('b')));
}

TEST(Snapshotter, MakeTempGivesDistinctDirsUnderRoot) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  auto a = s->MakeTemp(), b = s->MakeTemp();
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(StartsWith(*a, t / "snaps/tmp/"));
  struct stat st;
  ASSERT_EQ(::stat(a->c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(Snapshotter, CleanRemovesLeftoversButNotLockedUnpacks) {
  TempDir t;
  auto s = Snapshotter::Open(t / "snaps");
  ASSERT_TRUE(s);
  std::string stale = *s->MakeTemp(), busy = *s->MakeTemp();
  ASSERT_TRUE(MkdirAll(stale + "/fs/usr/bin"));
  ASSERT_EQ(::chmod((stale + "/fs/usr").c_str(), 0555), 0);
  ASSERT_TRUE(WriteText(t / "snaps/tmp/stray-file", "x"));
  UniqueFd held(::open(busy.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(held);
  ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
  auto r = s->Clean();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(PathExists(stale));
  EXPECT_FALSE(PathExists(t / "snaps/tmp/stray-file"));
  EXPECT_TRUE(PathExists(busy));
  held.Reset();
  ASSERT_TRUE(s->Clean());
  EXPECT_FALSE(PathExists(busy));
}

TEST(SnapshotLayout, RemoveTreeOfMissingPathSucceeds) {
  EXPECT_TRUE(snapshot_internal::RemoveTree("/tmp/moor-snap-test-definitely-missing"));
}

}  // namespace
}  // namespace moor::image
