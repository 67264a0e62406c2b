// Snapshotter::Unpack with real layers (written by WriteLayer, stored in a
// ContentStore, extracted by ExtractLayer).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "image/archive/layer_writer.h"
#include "image/snapshot/snapshotter.h"
#include "image/snapshot/test_util.h"

namespace moor::image {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ContentStore::Open(t_ / "content");
    ASSERT_TRUE(store) << store.error().message();
    store_.emplace(std::move(*store));
    auto snaps = Snapshotter::Open(t_ / "snaps");
    ASSERT_TRUE(snaps) << snaps.error().message();
    snaps_.emplace(std::move(*snaps));

    std::string l0 = t_ / "src0", l1 = t_ / "src1";
    ASSERT_TRUE(MkdirAll(l0 + "/d") && MkdirAll(l1 + "/d"));
    ASSERT_TRUE(WriteText(l0 + "/a", "zero"));
    ASSERT_TRUE(WriteText(l0 + "/d/x", "x0"));
    ASSERT_TRUE(WriteText(l1 + "/b", "one"));
    ASSERT_TRUE(WriteText(l1 + "/d/y", "y1"));
    AddLayer(l0);
    AddLayer(l1);
  }

  void AddLayer(const std::string& dir) {
    UniqueFd src(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    UniqueFd out(::memfd_create("layer", MFD_CLOEXEC));
    ASSERT_TRUE(src && out);
    auto blob = WriteLayer(src.get(), out.get(), {});
    ASSERT_TRUE(blob) << blob.error().message();
    ASSERT_EQ(::lseek(out.get(), 0, SEEK_SET), 0);
    auto stored = store_->WriteBlobFromFd(out.get(), blob->digest);
    ASSERT_TRUE(stored) << stored.error().message();
    manifest_.layers.push_back({std::string(media::kOciLayerGzip), blob->digest, blob->size, {}, {}, {}});
    config_.diff_ids.push_back(blob->diff_id);
  }

  std::vector<std::string> TmpEntries() {
    std::vector<std::string> out;
    if (DIR* d = ::opendir((t_ / "snaps/tmp").c_str())) {
      while (auto* e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }

  TempDir t_;
  std::optional<ContentStore> store_;
  std::optional<Snapshotter> snaps_;
  Manifest manifest_;
  ImageConfig config_;
};

TEST_F(UnpackTest, UnpacksEachLayerByChainIdOnce) {
  std::set<size_t> reported;
  std::mutex mu;  // layers unpack in parallel: progress comes from several threads
  auto dirs = snaps_->Unpack(*store_, manifest_, config_, {}, [&](size_t i, uint64_t) {
    std::lock_guard lock(mu);
    reported.insert(i);
  });
  ASSERT_TRUE(dirs) << dirs.error().message();
  auto chain = ChainIds(config_.diff_ids);
  ASSERT_EQ(dirs->size(), 2u);
  EXPECT_EQ((*dirs)[0], snaps_->Path(chain[0]));
  EXPECT_EQ((*dirs)[1], snaps_->Path(chain[1]));
  EXPECT_EQ(reported, (std::set<size_t>{0, 1}));
  EXPECT_EQ(ReadText((*dirs)[0] + "/a"), "zero");
  EXPECT_EQ(ReadText((*dirs)[0] + "/d/x"), "x0");
  EXPECT_EQ(ReadText((*dirs)[1] + "/d/y"), "y1");
  EXPECT_FALSE(PathExists((*dirs)[1] + "/a"));  // a layer holds only its own diff
  auto meta = snapshot_internal::ReadMeta(t_ / ("snaps/sha256/" + chain[1].hex()));
  ASSERT_TRUE(meta) << meta.error().message();
  EXPECT_EQ(meta->diff_id, config_.diff_ids[1]);
  EXPECT_EQ(meta->blob, manifest_.layers[1].digest);
  EXPECT_GT(meta->size, 5u);  // the uncompressed tar stream
  EXPECT_EQ(meta->size % 512, 0u);
  EXPECT_EQ(snaps_->List().size(), 2u);
  EXPECT_TRUE(TmpEntries().empty());

  // Again: nothing is extracted (no progress), same dirs.
  reported.clear();
  auto again = snaps_->Unpack(*store_, manifest_, config_, {}, [&](size_t i, uint64_t) {
    std::lock_guard lock(mu);
    reported.insert(i);
  });
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *dirs);
  EXPECT_TRUE(reported.empty());
}

TEST_F(UnpackTest, ConcurrentUnpacksExtractEachLayerOnce) {
  constexpr int kThreads = 6;
  std::mutex mu;
  std::set<std::pair<int, size_t>> extractions;  // (thread, layer) that extracted
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto r = snaps_->Unpack(*store_, manifest_, config_, {}, [&](size_t i, uint64_t) {
        std::lock_guard lock(mu);
        extractions.insert({t, i});
      });
      if (r && r->size() == 2) ++ok;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(extractions.size(), 2u);
  EXPECT_EQ(snaps_->List().size(), 2u);
  EXPECT_TRUE(TmpEntries().empty());
}

TEST_F(UnpackTest, DiffIdMismatchFailsAndLeavesNothing) {
  config_.diff_ids[1] = Sha256Of("something else");
  auto r = snaps_->Unpack(*store_, manifest_, config_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("layer 1"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("diff_id mismatch"), std::string::npos) << r.error().message();
  auto chain = ChainIds(config_.diff_ids);
  EXPECT_TRUE(snaps_->Has(chain[0]));
  EXPECT_FALSE(snaps_->Has(chain[1]));
  EXPECT_FALSE(PathExists(t_ / ("snaps/sha256/" + chain[1].hex())));
  EXPECT_TRUE(TmpEntries().empty());
}

TEST_F(UnpackTest, CorruptBlobFailsAndLeavesNothing) {
  // The stored bytes of layer 0 are replaced by layer 1's: the digest read
  // while extracting no longer matches the descriptor.
  auto other = ReadFile(store_->BlobPath(manifest_.layers[1].digest));
  ASSERT_TRUE(other);
  std::string victim = store_->BlobPath(manifest_.layers[0].digest);
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  ASSERT_TRUE(WriteExisting(victim, *other));
  auto r = snaps_->Unpack(*store_, manifest_, config_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("layer 0"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("mismatch"), std::string::npos) << r.error().message();
  // Layers unpack in parallel: an intact layer may be complete (a whole,
  // verified snapshot gc can remove), the corrupt one never is.
  auto chain = ChainIds(config_.diff_ids);
  EXPECT_FALSE(snaps_->Has(chain[0]));
  for (auto& d : snaps_->List()) EXPECT_EQ(d, chain[1]);
  EXPECT_TRUE(TmpEntries().empty());
}

TEST_F(UnpackTest, MissingBlobAndLayerCountMismatchFail) {
  Manifest short_manifest = manifest_;
  short_manifest.layers.pop_back();
  auto count = snaps_->Unpack(*store_, short_manifest, config_);
  ASSERT_FALSE(count);
  EXPECT_NE(count.error().message().find("diff_ids"), std::string::npos) << count.error().message();

  ASSERT_TRUE(store_->Delete(manifest_.layers[1].digest));
  auto missing = snaps_->Unpack(*store_, manifest_, config_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("layer 1"), std::string::npos) << missing.error().message();
  EXPECT_TRUE(TmpEntries().empty());
}

}  // namespace
}  // namespace moor::image
