#include "image/gc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>

#include "image/transfer_archive.h"
#include "image/transfer_test_util.h"

namespace moor::image {
namespace {

using namespace moor::image::testing;

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ImageService::Open(tmp_.path() + "/root");
    ASSERT_TRUE(s) << s.error().message();
    svc_ = std::make_unique<ImageService>(std::move(*s));
  }

  // Imports a one-file rootfs; returns the image's resolved form.
  ResolvedImage Import(const std::string& name, const std::string& content) {
    UniqueFd fd(FdWith(tmp_.path(), MakeTar({File("f", content)})));
    ImportOptions opts;
    opts.name = name;
    auto id = ImportRootfs(*svc_, fd.get(), opts);
    EXPECT_TRUE(id) << id.error().message();
    auto img = svc_->Resolve(name);
    EXPECT_TRUE(img) << img.error().message();
    return *img;
  }

  TempDir tmp_;
  std::unique_ptr<ImageService> svc_;
};

TEST_F(GcTest, RemovesUnreferencedBlobsAndKeepsNamedImages) {
  ResolvedImage kept = Import("kept:1", "kept");
  auto stray = svc_->content().WriteBlob("nobody references this");
  ASSERT_TRUE(stray);
  ResolvedImage gone = Import("gone:1", "gone");
  auto removed = svc_->Remove("gone:1", false);
  ASSERT_TRUE(removed) << removed.error().message();

  auto report = CollectGarbage(*svc_);
  ASSERT_TRUE(report) << report.error().message();
  // stray + gone's manifest, config and layer
  EXPECT_EQ(report->blobs_removed, 4u);
  EXPECT_GT(report->bytes_freed, 0u);
  EXPECT_FALSE(svc_->content().Has(*stray));
  EXPECT_FALSE(svc_->content().Has(gone.record.manifest));
  EXPECT_FALSE(svc_->content().Has(gone.manifest.layers[0].digest));
  EXPECT_TRUE(svc_->content().Has(kept.record.manifest));
  EXPECT_TRUE(svc_->content().Has(kept.record.config));
  EXPECT_TRUE(svc_->content().Has(kept.manifest.layers[0].digest));
  EXPECT_TRUE(svc_->Resolve("kept:1"));

  // Nothing left to do: a second run removes nothing.
  auto again = CollectGarbage(*svc_);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->blobs_removed, 0u);
}

TEST_F(GcTest, KeepsWhatKeepAndTheBuildCacheReference) {
  ResolvedImage by_container = Import("c:1", "container image");
  ResolvedImage cached = Import("cache:1", "cached layer");
  ASSERT_TRUE(svc_->Remove("c:1", false));
  ASSERT_TRUE(svc_->Remove("cache:1", false));
  ASSERT_TRUE(MkdirAll(svc_->root() + "/build-cache"));
  ASSERT_TRUE(WriteFileAtomic(svc_->root() + "/build-cache/step.json",
                              R"({"layer":")" + cached.manifest.layers[0].digest.str() + R"(","x":1})"));

  auto report = CollectGarbage(*svc_, {by_container.record.manifest});
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(svc_->content().Has(by_container.record.manifest));
  EXPECT_TRUE(svc_->content().Has(by_container.record.config));
  EXPECT_TRUE(svc_->content().Has(by_container.manifest.layers[0].digest));
  EXPECT_TRUE(svc_->content().Has(cached.manifest.layers[0].digest));
  EXPECT_FALSE(svc_->content().Has(cached.record.manifest));
  EXPECT_FALSE(svc_->content().Has(cached.record.config));
}

TEST_F(GcTest, RemovesSnapshotsOfImagesNoLongerNamed) {
  ResolvedImage kept = Import("kept:1", "kept");
  ResolvedImage gone = Import("gone:1", "gone");
  ASSERT_TRUE(svc_->Layers(kept)) << "unpack kept";
  ASSERT_TRUE(svc_->Layers(gone)) << "unpack gone";
  Digest kept_chain = ChainIds(kept.config.diff_ids)[0], gone_chain = ChainIds(gone.config.diff_ids)[0];
  ASSERT_TRUE(svc_->snapshots().Has(kept_chain));
  ASSERT_TRUE(svc_->snapshots().Has(gone_chain));
  ASSERT_TRUE(svc_->Remove("gone:1", false));

  auto report = CollectGarbage(*svc_);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->snapshots_removed, 1u);
  EXPECT_TRUE(svc_->snapshots().Has(kept_chain));
  EXPECT_FALSE(svc_->snapshots().Has(gone_chain));
}

TEST_F(GcTest, StopsBeforeDeletingWhenAManifestIsUnreadable) {
  ResolvedImage img = Import("x:1", "x");
  auto stray = svc_->content().WriteBlob("stray");
  ASSERT_TRUE(stray);
  // A named image whose manifest blob is not a manifest: marking fails.
  auto junk = svc_->content().WriteBlob("not json");
  ASSERT_TRUE(junk);
  ImageRecord rec = img.record;
  rec.name = "docker.io/library/broken:1";
  rec.manifest = *junk;
  ASSERT_TRUE(svc_->names().Set(rec));
  auto report = CollectGarbage(*svc_);
  ASSERT_FALSE(report);
  EXPECT_TRUE(svc_->content().Has(*stray));
}

TEST_F(GcTest, WaitsForSharedHolders) {
  auto shared = GcLock::Acquire(svc_->root(), GcLock::Mode::kShared);
  ASSERT_TRUE(shared) << shared.error().message();
  auto shared2 = GcLock::Acquire(svc_->root(), GcLock::Mode::kShared);
  ASSERT_TRUE(shared2) << "shared holders must not block each other";
  // An exclusive lock is refused while shared holders exist.
  UniqueFd probe(open((svc_->root() + "/gc.lock").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(probe);
  EXPECT_NE(flock(probe.get(), LOCK_EX | LOCK_NB), 0);
}

}  // namespace
}  // namespace moor::image
