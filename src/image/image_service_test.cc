#include "image/image_service.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include "common/file.h"

namespace moor::image {
namespace {

class ImageServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-image-service.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto svc = ImageService::Open(dir_);
    ASSERT_TRUE(svc.has_value()) << svc.error().message();
    svc_.emplace(std::move(*svc));
    // A config and a manifest with no layers are enough for naming.
    ImageConfig cfg;
    cfg.os = "linux";
    cfg.architecture = "amd64";
    cfg.config.cmd = std::vector<std::string>{"true"};
    std::string cfg_json = SerializeImageConfig(cfg);
    config_ = *svc_->content().WriteBlob(cfg_json);
    Manifest m;
    m.media_type = std::string(media::kOciManifest);
    m.config = Descriptor{std::string(media::kOciConfig), config_, static_cast<int64_t>(cfg_json.size()), {}, {}, {}};
    manifest_ = *svc_->content().WriteBlob(SerializeManifest(m));
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  std::string dir_;
  std::optional<ImageService> svc_;
  Digest config_, manifest_;
};

TEST_F(ImageServiceTest, UnnamedImageIsListedResolvableByIdAndDroppedOnceNamed) {
  ASSERT_TRUE(svc_->RecordUnnamed(manifest_, "").has_value());
  auto list = svc_->List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "");
  EXPECT_EQ((*list)[0].id, config_);

  auto by_id = svc_->Resolve(config_.hex().substr(0, 8));
  ASSERT_TRUE(by_id.has_value()) << by_id.error().message();
  EXPECT_EQ(by_id->record.config, config_);

  ASSERT_TRUE(svc_->Tag(config_.hex().substr(0, 8), "app:1").has_value());
  list = svc_->List();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "app:1");
  // Recording it as unnamed again is a no-op while it has a name.
  ASSERT_TRUE(svc_->RecordUnnamed(manifest_, "").has_value());
  EXPECT_EQ(svc_->List()->size(), 1u);
}

TEST_F(ImageServiceTest, UnknownImageSaysHowToGetIt) {
  auto r = svc_->Resolve("nosuch:1");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("no such image: nosuch:1"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("moor pull"), std::string::npos);
}

TEST_F(ImageServiceTest, RemoveByIdWithSeveralNamesNeedsForce) {
  ASSERT_TRUE(svc_->Name("a:1", manifest_, "").has_value());
  ASSERT_TRUE(svc_->Name("b:1", manifest_, "").has_value());
  auto r = svc_->Remove(config_.hex().substr(0, 12), false);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("-f"), std::string::npos);
  auto forced = svc_->Remove(config_.hex().substr(0, 12), true);
  ASSERT_TRUE(forced.has_value());
  EXPECT_EQ(forced->size(), 2u);
  EXPECT_TRUE(svc_->List()->empty());
}

}  // namespace
}  // namespace moor::image
