// An 8,000-file / 800-directory release through the whole store, timed
// (docs/design/deploy.md §3 expects 40–80 ms to materialise it). The times are
// printed; the assertions are about the result, and a generous time bound.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "deploy/store/release_store.h"
#include "deploy/store/store_test_util.h"

namespace moor::deploy {
namespace {

using testing::TempDir;
using testing::TreeMaker;

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of this thread (user + system): the wall time on a loaded machine waits for others.
int64_t CpuNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Seeded file contents of about 1 KB (8 MB in all: linking does not depend on
// sizes, and less I/O keeps the test quick); every 50th file is executable.
struct Generated {
  TreeMaker maker;
  image::Digest root;
  int64_t files = 0;
  int64_t dirs = 0;
};

// A seeded pool of text; each file is a unique header and a slice of it.
const std::string& Pool() {
  static const std::string pool = [] {
    std::string p(1 << 16, '\0');
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (auto& c : p) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = x % 61 == 0 ? '\n' : static_cast<char>('a' + x % 26);
    }
    return p;
  }();
  return pool;
}

std::string Content(uint64_t seed) {
  std::string s = "<?php // file " + std::to_string(seed) + "\n";
  size_t len = 200 + static_cast<size_t>(seed * 2654435761u % 1600);
  s.append(Pool(), static_cast<size_t>(seed * 40503u % (Pool().size() - len)), len);
  return s;
}

void Generate(Generated& g) {
  std::vector<TreeEntry> top;
  uint64_t n = 0;
  auto files = [&](std::vector<TreeEntry>& into) {
    for (int f = 0; f < 10; ++f, ++n) {
      into.push_back(g.maker.File("file" + std::to_string(f) + ".php", Content(n), n % 50 == 0));
      ++g.files;
    }
  };
  for (int a = 0; a < 40; ++a) {
    std::vector<TreeEntry> level1;
    files(level1);
    for (int b = 0; b < 19; ++b) {
      std::vector<TreeEntry> level2;
      files(level2);
      level1.push_back(g.maker.Dir("sub" + std::to_string(b), std::move(level2)));
      ++g.dirs;
    }
    top.push_back(g.maker.Dir("dir" + std::to_string(a), std::move(level1)));
    ++g.dirs;
  }
  g.root = g.maker.Root(std::move(top));
}

TEST(LargeTreeTest, EightThousandFilesInEightHundredDirs) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  auto opened = ReleaseStore::Open(tmp.path() + "/deploy");
  ASSERT_TRUE(opened) << opened.error().message();
  ReleaseStore& store = **opened;
  auto t0 = std::chrono::steady_clock::now();
  Generated g;
  Generate(g);
  std::vector<std::string> packs = g.maker.BlobPacks(16 << 20);
  double generate = MsSince(t0);
  ASSERT_EQ(g.files, 8000);
  ASSERT_EQ(g.dirs, 800);

  t0 = std::chrono::steady_clock::now();
  int64_t bytes = 0;
  for (const auto& pack : packs) {
    auto r = store.PutBlobPack(pack);
    ASSERT_TRUE(r) << r.error().message();
    bytes += r->bytes;
  }
  double put_blobs = MsSince(t0);
  t0 = std::chrono::steady_clock::now();
  auto trees = store.PutTreePack(g.maker.tree_pack());
  ASSERT_TRUE(trees) << trees.error().message();
  EXPECT_EQ(trees->files, 801);
  double put_trees = MsSince(t0);
  t0 = std::chrono::steady_clock::now();
  std::vector<image::Digest> all = g.maker.blobs();
  all.insert(all.end(), g.maker.trees().begin(), g.maker.trees().end());
  ASSERT_TRUE(store.Sync(all));
  double sync = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  const int64_t cpu0 = CpuNs();
  MaterialiseStats stats;
  auto path = store.Materialise("app", "web", 1, g.root, &stats);
  ASSERT_TRUE(path) << path.error().message();
  double materialise = MsSince(t0);
  double materialise_cpu = static_cast<double>(CpuNs() - cpu0) / 1e6;
  EXPECT_EQ(stats.files, 8000);
  EXPECT_EQ(stats.dirs, 801);
  EXPECT_EQ(stats.copies, 0);
  EXPECT_EQ(stats.exec_made, 160);

  t0 = std::chrono::steady_clock::now();
  auto again = store.Materialise("app", "web", 2, g.root, &stats);
  ASSERT_TRUE(again) << again.error().message();
  double materialise2 = MsSince(t0);
  EXPECT_EQ(stats.exec_made, 0);

  t0 = std::chrono::steady_clock::now();
  auto check = store.CheckMaterialised("app", "web", 1, g.root);
  ASSERT_TRUE(check) << check.error().message();
  EXPECT_TRUE(*check);
  double checked = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store.SetCurrent("app", "web", 2));
  double flip = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store.RemoveRelease("app", "web", 1));
  double remove = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  auto gc = store.CollectGarbage(std::vector<image::Digest>{g.root}, 0);
  ASSERT_TRUE(gc) << gc.error().message();
  EXPECT_EQ(gc->blobs_removed, 0);
  double gc_ms = MsSince(t0);

  std::printf(
      "[ timing ] 8000 files / 800 dirs, %.1f MB (generated in %.0f ms): blob packs %.0f ms, trees %.0f ms, sync %.0f "
      "ms, "
      "materialise %.0f ms (%.0f ms CPU; again, exec copies present: %.0f ms), check %.0f ms, flip %.2f ms, "
      "remove %.0f ms, gc mark+sweep %.0f ms\n",
      static_cast<double>(bytes) / 1e6, generate, put_blobs, put_trees, sync, materialise, materialise_cpu,
      materialise2, checked, flip, remove, gc_ms);
  RecordProperty("materialise_ms", static_cast<int>(materialise));
  // Generous (sanitizers, a loaded machine: 0.9–1.5 s seen under ASan with busy loops on 2 cores);
  // the design target is 40–80 ms, so this still catches an order-of-magnitude regression.
  EXPECT_LT(materialise, 15000);
}

}  // namespace
}  // namespace moor::deploy
