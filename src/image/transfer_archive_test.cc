#include "image/transfer_archive.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "image/transfer_test_util.h"

namespace moor::image {
namespace {

using namespace moor::image::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RecordingProgress : public ProgressSink {
 public:
  void Status(const std::string&, const std::string&) override {}
  void Bytes(const std::string&, int64_t, int64_t) override {}
  void Message(const std::string& line) override { lines.push_back(line); }
  void Flush() override {}
  std::vector<std::string> lines;
};

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override { svc_ = Open(tmp_.path() + "/root"); }

  static std::unique_ptr<ImageService> Open(const std::string& root) {
    auto s = ImageService::Open(root);
    EXPECT_TRUE(s) << s.error().message();
    return std::make_unique<ImageService>(std::move(*s));
  }

  Result<std::vector<std::string>> Load(ImageService& svc, const std::string& bytes) {
    UniqueFd fd(FdWith(tmp_.path(), bytes));
    return LoadArchive(svc, fd.get(), progress_);
  }

  // A docker save (20.10) archive: <id>/layer.tar, <config hex>.json,
  // manifest.json, repositories. The second layer dir is a symlink to the
  // first layer's tar when `shared_layer`.
  std::string DockerSave(const std::vector<std::string>& layers, const std::string& config,
                         const std::string& tag) {
    std::vector<TarFile> files;
    std::string cfg_name = Sha256Of(config).hex() + ".json";
    files.push_back(File(cfg_name, config));
    nlohmann::json layer_paths = nlohmann::json::array();
    for (size_t i = 0; i < layers.size(); ++i) {
      std::string id = Sha256Of("v1-" + std::to_string(i)).hex();
      files.push_back(TarFile{.name = id, .data = "", .symlink = "", .dir = true});
      files.push_back(File(id + "/VERSION", "1.0"));
      files.push_back(File(id + "/layer.tar", layers[i]));
      layer_paths.push_back(id + "/layer.tar");
    }
    nlohmann::json m = nlohmann::json::array();
    m.push_back({{"Config", cfg_name}, {"RepoTags", {tag}}, {"Layers", layer_paths}});
    files.push_back(File("manifest.json", m.dump()));
    files.push_back(File("repositories", R"({"x":{"y":"z"}})"));
    return MakeTar(files);
  }

  TempDir tmp_;
  std::unique_ptr<ImageService> svc_;
  RecordingProgress progress_;
};

TEST_F(TransferTest, LoadsDockerSaveArchive) {
  std::string l1 = LayerTar("etc/a", "one\n"), l2 = LayerTar("etc/b", "two\n");
  std::string config = ConfigFor({l1, l2});
  auto loaded = Load(*svc_, DockerSave({l1, l2}, config, "busybox-test:1.0"));
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_THAT(*loaded, ElementsAre("busybox-test:1.0"));
  EXPECT_THAT(progress_.lines, ElementsAre("Loaded image: busybox-test:1.0"));

  auto img = svc_->Resolve("busybox-test:1.0");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->record.config, Sha256Of(config));
  ASSERT_EQ(img->manifest.layers.size(), 2u);
  // Uncompressed layers are kept as they came: blob digest = diff_id.
  EXPECT_EQ(img->manifest.layers[0].digest, Sha256Of(l1));
  EXPECT_EQ(img->manifest.layers[1].digest, Sha256Of(l2));
  EXPECT_EQ(img->manifest.layers[0].media_type, media::kOciLayer);
  EXPECT_TRUE(svc_->content().Has(Sha256Of(l2)));
  auto list = svc_->List();
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, Sha256Of(config));
}

TEST_F(TransferTest, LoadsCompressedOuterArchiveAndSymlinkedLayers) {
  std::string l1 = LayerTar("x", "shared\n");
  std::string config = ConfigFor({l1, l1});
  std::string cfg_name = Sha256Of(config).hex() + ".json";
  std::vector<TarFile> files = {
      File("manifest.json", nlohmann::json::array({{{"Config", cfg_name},
                                                    {"RepoTags", {"linked:latest"}},
                                                    {"Layers", {"aaa/layer.tar", "bbb/layer.tar"}}}})
                                .dump()),
      Symlink("bbb/layer.tar", "../aaa/layer.tar"),  // link before its target, as order is free
      File("aaa/layer.tar", l1),
      File(cfg_name, config),
  };
  for (Outer outer : {Outer::kGzip, Outer::kZstd}) {
    auto loaded = Load(*svc_, MakeTar(files, outer));
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_THAT(*loaded, ElementsAre("linked:latest"));
  }
  auto img = svc_->Resolve("linked");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->manifest.layers.size(), 2u);
}

TEST_F(TransferTest, LoadRejectsLayerThatDoesNotMatchConfig) {
  std::string l1 = LayerTar("etc/a", "one\n");
  std::string config = ConfigFor({LayerTar("etc/a", "other\n")});
  auto loaded = Load(*svc_, DockerSave({l1}, config, "bad:1"));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message(), HasSubstr("diff_id"));
  EXPECT_FALSE(svc_->Resolve("bad:1"));
}

TEST_F(TransferTest, LoadRejectsGarbageAndArchivesWithoutImages) {
  auto garbage = Load(*svc_, std::string(4096, 'x'));
  ASSERT_FALSE(garbage);
  EXPECT_THAT(garbage.error().message(), HasSubstr("not a tar archive"));
  auto empty = Load(*svc_, MakeTar({File("hello.txt", "hi")}));
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message(), HasSubstr("neither manifest.json nor index.json"));
}

struct OciImage {
  std::string layer, config, manifest;
  Digest manifest_digest;
};

OciImage MakeOciImage(const std::string& content) {
  OciImage img;
  img.layer = LayerTar("data", content);
  img.config = ConfigFor({img.layer});
  Manifest m;
  m.media_type = std::string(media::kOciManifest);
  m.config.media_type = std::string(media::kOciConfig);
  m.config.digest = Sha256Of(img.config);
  m.config.size = static_cast<int64_t>(img.config.size());
  Descriptor l;
  l.media_type = std::string(media::kOciLayer);
  l.digest = Sha256Of(img.layer);
  l.size = static_cast<int64_t>(img.layer.size());
  m.layers.push_back(l);
  img.manifest = SerializeManifest(m);
  img.manifest_digest = Sha256Of(img.manifest);
  return img;
}

std::vector<TarFile> OciBlobs(const OciImage& img) {
  return {File("blobs/sha256/" + Sha256Of(img.layer).hex(), img.layer),
          File("blobs/sha256/" + Sha256Of(img.config).hex(), img.config),
          File("blobs/sha256/" + img.manifest_digest.hex(), img.manifest)};
}

std::string IndexOf(const std::vector<Descriptor>& descs) {
  Index idx;
  idx.media_type = std::string(media::kOciIndex);
  idx.manifests = descs;
  return SerializeIndex(idx);
}

Descriptor Desc(std::string_view type, const std::string& blob, std::map<std::string, std::string> ann = {}) {
  Descriptor d;
  d.media_type = std::string(type);
  d.digest = Sha256Of(blob);
  d.size = static_cast<int64_t>(blob.size());
  d.annotations = std::move(ann);
  return d;
}

TEST_F(TransferTest, LoadsOciLayoutWithNamesFromAnnotations) {
  OciImage a = MakeOciImage("a"), b = MakeOciImage("b");
  std::vector<TarFile> files = {File("index.json", IndexOf({
                                    Desc(media::kOciManifest, a.manifest,
                                         {{"io.containerd.image.name", "docker.io/library/app:2"},
                                          {"org.opencontainers.image.ref.name", "2"}}),
                                    Desc(media::kOciManifest, b.manifest,
                                         {{"org.opencontainers.image.ref.name", "latest"}}),
                                })),
                                File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")};
  for (auto& f : OciBlobs(a)) files.push_back(f);
  for (auto& f : OciBlobs(b)) files.push_back(f);
  auto loaded = Load(*svc_, MakeTar(files));
  ASSERT_TRUE(loaded) << loaded.error().message();
  // b has only a tag: no repository to name it with.
  EXPECT_THAT(*loaded, ElementsAre("app:2", Sha256Of(b.config).str()));
  auto img = svc_->Resolve("app:2");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->record.manifest, a.manifest_digest);
  EXPECT_EQ(img->record.config, Sha256Of(a.config));
}

TEST_F(TransferTest, LoadFollowsNestedIndexToHostPlatform) {
  OciImage host = MakeOciImage("host");
  Descriptor other;
  other.media_type = std::string(media::kOciManifest);
  other.digest = Sha256Of("not in the archive");
  other.size = 18;
  other.platform = Platform{.os = "linux", .architecture = "s390x", .variant = "", .os_version = ""};
  Descriptor mine = Desc(media::kOciManifest, host.manifest);
  mine.platform = HostPlatform();
  std::string nested = IndexOf({other, mine});
  std::vector<TarFile> files = {
      File("index.json", IndexOf({Desc(media::kOciIndex, nested,
                                       {{"io.containerd.image.name", "docker.io/library/multi:1"}})})),
      File("blobs/sha256/" + Sha256Of(nested).hex(), nested)};
  for (auto& f : OciBlobs(host)) files.push_back(f);
  auto loaded = Load(*svc_, MakeTar(files));
  ASSERT_TRUE(loaded) << loaded.error().message();
  auto img = svc_->Resolve("multi:1");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->record.manifest, host.manifest_digest);
  ASSERT_TRUE(img->record.index.has_value());
  EXPECT_EQ(*img->record.index, Sha256Of(nested));
}

TEST_F(TransferTest, LoadRejectsBlobWhoseContentDoesNotMatchItsName) {
  OciImage a = MakeOciImage("a");
  std::string wrong_hex = Sha256Of("something else").hex();
  auto loaded = Load(*svc_, MakeTar({File("blobs/sha256/" + wrong_hex, a.layer)}));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message(), HasSubstr("archive entry blobs/sha256/" + wrong_hex +
                                                  " has digest " + Sha256Of(a.layer).str()));
  EXPECT_FALSE(svc_->content().Has(Sha256Of("something else")));
  EXPECT_FALSE(svc_->content().Has(Sha256Of(a.layer)));
}

TEST_F(TransferTest, LoadRejectsManifestWithMissingLayer) {
  OciImage a = MakeOciImage("a");
  std::vector<TarFile> files = {
      File("index.json",
           IndexOf({Desc(media::kOciManifest, a.manifest, {{"io.containerd.image.name", "m:1"}})})),
      File("blobs/sha256/" + Sha256Of(a.config).hex(), a.config),
      File("blobs/sha256/" + a.manifest_digest.hex(), a.manifest)};
  auto loaded = Load(*svc_, MakeTar(files));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message(),
              HasSubstr("layer " + Sha256Of(a.layer).str() + " is not in the archive"));
}

TEST_F(TransferTest, SaveWritesBothLayoutsAndLoadsIntoAFreshRoot) {
  std::string l1 = LayerTar("etc/a", "one\n");
  std::string config = ConfigFor({l1});
  ASSERT_TRUE(Load(*svc_, DockerSave({l1}, config, "saved:1")));
  auto img = svc_->Resolve("saved:1");
  ASSERT_TRUE(img) << img.error().message();

  UniqueFd out(FdWith(tmp_.path(), ""));
  auto saved = SaveArchive(*svc_, {"saved:1"}, out.get());
  ASSERT_TRUE(saved) << saved.error().message();
  std::string bytes = ReadAllFd(out.get());

  auto entries = ReadTar(bytes);
  ASSERT_TRUE(entries.contains("oci-layout"));
  ASSERT_TRUE(entries.contains("index.json"));
  ASSERT_TRUE(entries.contains("manifest.json"));
  EXPECT_TRUE(entries.contains("blobs/sha256/" + img->record.manifest.hex()));
  EXPECT_TRUE(entries.contains("blobs/sha256/" + Sha256Of(l1).hex()));
  auto dm = nlohmann::json::parse(entries["manifest.json"]);
  EXPECT_EQ(dm[0]["Config"], "blobs/sha256/" + Sha256Of(config).hex());
  EXPECT_EQ(dm[0]["RepoTags"][0], "saved:1");
  EXPECT_EQ(dm[0]["Layers"][0], "blobs/sha256/" + Sha256Of(l1).hex());
  auto idx = ParseIndex(entries["index.json"]);
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx->manifests.size(), 1u);
  EXPECT_EQ(idx->manifests[0].annotations["io.containerd.image.name"], "docker.io/library/saved:1");
  EXPECT_EQ(idx->manifests[0].annotations["org.opencontainers.image.ref.name"], "1");

  // Deterministic: the same images give the same bytes.
  UniqueFd out2(FdWith(tmp_.path(), ""));
  ASSERT_TRUE(SaveArchive(*svc_, {"saved:1"}, out2.get()));
  EXPECT_EQ(ReadAllFd(out2.get()), bytes);

  auto fresh = Open(tmp_.path() + "/root2");
  auto loaded = Load(*fresh, bytes);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_THAT(*loaded, ElementsAre("saved:1"));
  auto again = fresh->Resolve("saved:1");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->record.config, img->record.config);
  EXPECT_EQ(again->record.manifest, img->record.manifest);
}

TEST_F(TransferTest, SaveOfUnknownImageFails) {
  UniqueFd out(FdWith(tmp_.path(), ""));
  auto saved = SaveArchive(*svc_, {"nosuch:1"}, out.get());
  ASSERT_FALSE(saved);
  EXPECT_THAT(saved.error().message(), HasSubstr("nosuch"));
  EXPECT_FALSE(SaveArchive(*svc_, {}, out.get()));
}

TEST_F(TransferTest, ImportMakesOneLayerImage) {
  std::string rootfs = MakeTar({TarFile{.name = "etc", .data = "", .symlink = "", .dir = true},
                                File("etc/hostname", "box\n"), Symlink("bin/sh", "busybox")});
  for (Outer outer : {Outer::kNone, Outer::kGzip}) {
    UniqueFd fd(FdWith(tmp_.path(), outer == Outer::kNone ? rootfs : MakeTar(
        {TarFile{.name = "etc", .data = "", .symlink = "", .dir = true}, File("etc/hostname", "box\n"),
         Symlink("bin/sh", "busybox")}, outer)));
    ImportOptions opts;
    opts.name = "imported:1";
    opts.changes = {"CMD [\"sh\"]", "ENV FOO=bar", "WORKDIR /srv", "EXPOSE 80"};
    opts.message = "from test";
    auto id = ImportRootfs(*svc_, fd.get(), opts);
    ASSERT_TRUE(id) << id.error().message();
    auto img = svc_->Resolve("imported:1");
    ASSERT_TRUE(img) << img.error().message();
    EXPECT_EQ(img->record.config, *id);
    ASSERT_EQ(img->config.diff_ids.size(), 1u);
    // The compressed input decompresses to the same tar bytes.
    EXPECT_EQ(img->config.diff_ids[0], Sha256Of(rootfs));
    EXPECT_EQ(img->config.os, "linux");
    EXPECT_EQ(img->config.architecture, HostPlatform().architecture);
    EXPECT_THAT(*img->config.config.cmd, ElementsAre("sh"));
    EXPECT_THAT(img->config.config.env,
                ElementsAre("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"));
    EXPECT_EQ(img->config.config.working_dir, "/srv");
    EXPECT_THAT(img->config.config.exposed_ports, ElementsAre("80/tcp"));
    ASSERT_EQ(img->config.history.size(), 1u);
    EXPECT_EQ(img->config.history[0].comment, "from test");
    ASSERT_EQ(img->manifest.layers.size(), 1u);
    EXPECT_EQ(img->manifest.layers[0].media_type, media::kDockerLayerGzip);
    EXPECT_TRUE(svc_->content().Has(img->manifest.layers[0].digest));
  }
}

TEST_F(TransferTest, ImportRejectsUnsupportedChangeBeforeReading) {
  UniqueFd fd(FdWith(tmp_.path(), MakeTar({File("a", "b")})));
  ImportOptions opts;
  opts.name = "imported:2";
  opts.changes = {"RUN rm -rf /"};
  auto id = ImportRootfs(*svc_, fd.get(), opts);
  ASSERT_FALSE(id);
  EXPECT_THAT(id.error().message(), HasSubstr("RUN"));
  EXPECT_FALSE(svc_->Resolve("imported:2"));
  EXPECT_TRUE(svc_->content().ListBlobs().empty());
}

}  // namespace
}  // namespace moor::image
