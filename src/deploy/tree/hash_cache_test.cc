#include "deploy/tree/hash_cache.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/file.h"
#include "image/core/digest.h"

namespace moor::deploy {
namespace {

std::array<uint8_t, 32> Rules(std::string_view text) {
  return RawOf(image::Sha256Of(text).hex());
}

CachedFile File(uint64_t ino, std::string_view content, bool racy = false) {
  return CachedFile{.key = {.dev = 2049,
                            .ino = ino,
                            .size = static_cast<int64_t>(content.size()),
                            .mtime_ns = 1'700'000'000'123'456'789,
                            .ctime_ns = 1'700'000'001'000'000'000,
                            .mode = S_IFREG | 0644},
                    .sha256 = RawOf(image::Sha256Of(content).hex()),
                    .racy = racy};
}

CachedDir Dir(uint64_t ino) {
  return CachedDir{.ino = ino,
                   .mtime_ns = -5,
                   .ctime_ns = 42,
                   .racy = false,
                   .names = {{.name = "a.php", .type = DT_REG},
                             {.name = "sub", .type = DT_DIR},
                             {.name = "vendor", .type = DT_DIR, .excluded = true}}};
}

HashCache Sample() {
  HashCache c = HashCache::Load("/nonexistent/cache.idx", Rules("r"), nullptr);
  c.PutFile("a.php", File(10, "a"));
  c.PutFile("sub/b.php", File(11, "b", true));
  c.PutFile(std::string("odd\nname\xff", 9), File(12, ""));
  c.PutDir("", Dir(1));
  c.PutDir("sub", CachedDir{.ino = 2});
  return c;
}

TEST(HashCacheTest, HexConversions) {
  std::string hex = image::Sha256Of("x").hex();
  EXPECT_EQ(HexOf(RawOf(hex)), hex);
}

TEST(HashCacheTest, EncodeDecodeRoundTrip) {
  HashCache c = Sample();
  std::string bytes = c.Encode(123);
  EXPECT_TRUE(bytes.starts_with("MOORHC1"));
  auto back = HashCache::Decode(bytes, Rules("r"));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->SameEntries(c));
  EXPECT_EQ(back->file_count(), 3u);
  EXPECT_EQ(back->dir_count(), 2u);
  EXPECT_FALSE(back->dirty());
  const CachedFile* f = back->UseFile("sub/b.php");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f, File(11, "b", true));
  const CachedDir* d = back->UseDir("");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(*d, Dir(1));
  EXPECT_EQ(back->UseFile("missing"), nullptr);
  // The encoding is deterministic (sorted by path).
  EXPECT_EQ(back->Encode(123), bytes);
}

TEST(HashCacheTest, EveryDamageIsRefused) {
  std::string bytes = Sample().Encode(1);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(HashCache::Decode(bytes.substr(0, n), Rules("r"))) << "cut at " << n;
  }
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string bad = bytes;
    bad[at] ^= 1;
    EXPECT_FALSE(HashCache::Decode(bad, Rules("r"))) << "flipped byte " << at;
  }
  EXPECT_FALSE(HashCache::Decode(bytes + "x", Rules("r")));
}

TEST(HashCacheTest, OtherRulesDropDirectoryRecords) {
  std::string bytes = Sample().Encode(1);
  auto other = HashCache::Decode(bytes, Rules("other"));
  ASSERT_TRUE(other) << other.error().message();
  EXPECT_EQ(other->file_count(), 3u);  // file digests do not depend on the rules
  EXPECT_EQ(other->dir_count(), 0u);
  EXPECT_TRUE(other->dirty());
  EXPECT_EQ(other->rules_digest(), Rules("other"));
}

TEST(HashCacheTest, DirtyOnlyWhenSomethingChanged) {
  auto c = *HashCache::Decode(Sample().Encode(1), Rules("r"));
  c.PutFile("a.php", File(10, "a"));  // the same entry again
  c.PutDir("", Dir(1));
  EXPECT_FALSE(c.dirty());
  c.UseFile("sub/b.php");
  c.UseFile(std::string("odd\nname\xff", 9));
  c.UseDir("sub");
  c.DropUnseen();
  EXPECT_FALSE(c.dirty());  // everything was seen

  c.PutFile("a.php", File(10, "A"));
  EXPECT_TRUE(c.dirty());

  auto d = *HashCache::Decode(Sample().Encode(1), Rules("r"));
  d.UseFile("a.php");
  d.DropUnseen();  // two files and both directories are gone
  EXPECT_TRUE(d.dirty());
  EXPECT_EQ(d.file_count(), 1u);
  EXPECT_EQ(d.dir_count(), 0u);

  auto e = *HashCache::Decode(Sample().Encode(1), Rules("r"));
  e.PutFile("new.php", File(99, "n"));
  EXPECT_TRUE(e.dirty());
}

TEST(HashCacheTest, SaveAndLoad) {
  char tmpl[] = "/tmp/moor-hash-cache-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/a/b/cache.idx";
  HashCache c = Sample();
  ASSERT_TRUE(c.Save(path, 5));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  bool damaged = true;
  HashCache back = HashCache::Load(path, Rules("r"), &damaged);
  EXPECT_FALSE(damaged);
  EXPECT_TRUE(back.SameEntries(c));
  // No temporary file is left behind.
  EXPECT_EQ(PathExists(path + ".tmp." + std::to_string(getpid())), false);

  ASSERT_TRUE(WriteFileAtomic(path, "MOORHC1 garbage"));
  HashCache bad = HashCache::Load(path, Rules("r"), &damaged);
  EXPECT_TRUE(damaged);
  EXPECT_EQ(bad.file_count(), 0u);

  HashCache none = HashCache::Load(dir + "/missing.idx", Rules("r"), &damaged);
  EXPECT_FALSE(damaged);  // no cache yet is not damage
  EXPECT_EQ(none.file_count(), 0u);

  // A version this build does not know is ignored.
  std::string bytes = c.Encode(1);
  bytes[7] = 2;
  std::string body = bytes.substr(0, bytes.size() - 32);
  std::array<uint8_t, 32> sum = RawOf(image::Sha256Of(body).hex());
  auto v2 = HashCache::Decode(body + std::string(reinterpret_cast<const char*>(sum.data()), 32), Rules("r"));
  ASSERT_FALSE(v2);
  EXPECT_NE(v2.error().message().find("version 2"), std::string::npos) << v2.error().message();

  ASSERT_TRUE(RemoveAll(dir));
}

TEST(HashCacheTest, SaveReportsErrors) {
  HashCache c = Sample();
  auto r = c.Save("/proc/version/cache.idx", 1);
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace moor::deploy
