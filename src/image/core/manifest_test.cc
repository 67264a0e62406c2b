#include "image/core/manifest.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <string>

namespace moor::image {
namespace {

std::string H(char c) {
  return std::string(64, c);
}
std::string D(char c) {
  return "sha256:" + H(c);
}

const std::string kDockerManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
             "digest": ")" + D('a') +
                                    R"("},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2811969,
     "digest": ")" + D('b') + R"("},
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 0,
     "digest": ")" + D('c') + R"(", "urls": ["https://example.invalid/l"], "unknownField": 1}
  ]
})";

TEST(ManifestTest, ParsesDockerSchema2) {
  auto m = ParseManifest(kDockerManifest);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->schema_version, 2);
  EXPECT_EQ(m->media_type, media::kDockerManifest);
  EXPECT_EQ(m->config.media_type, media::kDockerConfig);
  EXPECT_EQ(m->config.digest.hex(), H('a'));
  EXPECT_EQ(m->config.size, 1469);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].size, 2811969);
  EXPECT_EQ(m->layers[1].digest.str(), D('c'));
  EXPECT_EQ(m->layers[1].urls, std::vector<std::string>{"https://example.invalid/l"});
}

TEST(ManifestTest, ParsesOciWithoutMediaTypeAndAnnotations) {
  std::string text = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json",
    "digest":")" + D('1') +
                     R"(","size":7},"layers":[],"annotations":{"org.opencontainers.image.ref.name":"v1"}})";
  auto m = ParseManifest(text);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->media_type, "");
  EXPECT_TRUE(m->layers.empty());
  EXPECT_EQ(m->annotations.at("org.opencontainers.image.ref.name"), "v1");
}

void ExpectError(const Result<Manifest>& r, std::string_view want) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), want);
}

std::string Layer(const std::string& digest, const std::string& size) {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + digest +
         R"(","size":)" + size + "}";
}
std::string OciManifestWithLayers(const std::string& layers) {
  return R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         D('1') + R"(","size":7},"layers":[)" + layers + "]}";
}

TEST(ManifestTest, ErrorsNameTheJsonPath) {
  ExpectError(ParseManifest(OciManifestWithLayers(Layer(D('2'), "1") + "," + Layer("sha256:xyz", "1"))),
              "manifest: layers[1].digest: digest \"sha256:xyz\" is not sha256:<64 lowercase hex>");
  ExpectError(ParseManifest(OciManifestWithLayers(Layer(D('2'), "-1"))),
              "manifest: layers[0].size: must not be negative");
  ExpectError(ParseManifest(OciManifestWithLayers(Layer(D('2'), "1.5"))),
              "manifest: layers[0].size: expected an integer");
  ExpectError(ParseManifest(OciManifestWithLayers(Layer(D('2'), "\"12\""))),
              "manifest: layers[0].size: expected an integer");
  ExpectError(ParseManifest(OciManifestWithLayers(Layer(D('2'), "18446744073709551615"))),
              "manifest: layers[0].size: value out of range");
  ExpectError(ParseManifest(OciManifestWithLayers(R"({"digest":")" + D('2') + R"(","size":1})")),
              "manifest: layers[0].mediaType: missing");
  ExpectError(ParseManifest(OciManifestWithLayers(R"({"mediaType":"x","size":1})")),
              "manifest: layers[0].digest: missing");
  ExpectError(ParseManifest(OciManifestWithLayers(R"({"mediaType":"x","digest":")" + D('2') + R"("})")),
              "manifest: layers[0].size: missing");
  ExpectError(ParseManifest(OciManifestWithLayers("7")), "manifest: layers[0]: expected an object");
  ExpectError(ParseManifest(R"({"schemaVersion":2,"layers":[]})"), "manifest: config: missing");
  ExpectError(ParseManifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + D('1') +
                            R"(","size":1}})"),
              "manifest: layers: missing");
  ExpectError(ParseManifest(R"({"layers":[]})"), "manifest: schemaVersion: missing");
  ExpectError(ParseManifest(R"({"schemaVersion":3,"layers":[]})"),
              "manifest: schemaVersion: must be 2, not 3");
  ExpectError(ParseManifest("{not json"), "manifest: not valid JSON");
  ExpectError(ParseManifest("[]"), "manifest: expected a JSON object");
  ExpectError(ParseManifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})"),
              "manifest: mediaType: \"application/vnd.oci.image.index.v1+json\" is an index, not a manifest");
  ExpectError(ParseManifest(R"({"schemaVersion":2,"mediaType":"text/plain","config":{},"layers":[]})"),
              "manifest: mediaType: \"text/plain\" is not an image manifest type");
}

TEST(ManifestTest, Schema1IsRefusedWithAClearMessage) {
  const std::string want =
      "manifest: schema1 manifests are not supported: push the image again with a current Docker or moor";
  ExpectError(ParseManifest(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})"), want);
  ExpectError(ParseManifest(R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"})"),
              want);
  auto kind = DetectManifestKind(media::kDockerSchema1Signed, "{}");
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().message().find("schema1 manifests are not supported"), std::string::npos);
  kind = DetectManifestKind("application/json", R"({"schemaVersion":1,"fsLayers":[]})");
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().message().find("schema1"), std::string::npos);
}

TEST(ManifestTest, SerializeIsCanonicalAndOmitsEmptyFields) {
  Manifest m;
  m.media_type = std::string(media::kOciManifest);
  m.config = {std::string(media::kOciConfig), Digest::FromHex(H('a')), 10, {}, {}, {}};
  m.layers.push_back({std::string(media::kOciLayerGzip), Digest::FromHex(H('b')), 20, {}, {}, {}});
  EXPECT_EQ(SerializeManifest(m),
            R"({"config":{"digest":")" + D('a') +
                R"(","mediaType":"application/vnd.oci.image.config.v1+json",)"
                R"("size":10},"layers":[{"digest":")" +
                D('b') +
                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":20}],)"
                R"("mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2})");
}

TEST(ManifestTest, RoundTrip) {
  auto m = ParseManifest(kDockerManifest);
  ASSERT_TRUE(m);
  m->annotations["a"] = "b";
  m->layers[0].annotations["k"] = "v";
  std::string text = SerializeManifest(*m);
  auto again = ParseManifest(text);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *m);
  EXPECT_EQ(SerializeManifest(*again), text);
}

const std::string kManifestList = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527,
     "digest": ")" + D('1') + R"(", "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527,
     "digest": ")" + D('2') + R"(", "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527,
     "digest": ")" + D('3') + R"(", "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527,
     "digest": ")" + D('4') + R"(", "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 839,
     "digest": ")" + D('5') + R"(", "platform": {"architecture": "unknown", "os": "unknown"},
     "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527,
     "digest": ")" + D('6') + R"(",
     "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1"}}
  ]
})";

TEST(IndexTest, ParsesManifestList) {
  auto idx = ParseIndex(kManifestList);
  ASSERT_TRUE(idx) << idx.error().message();
  EXPECT_EQ(idx->media_type, media::kDockerManifestList);
  ASSERT_EQ(idx->manifests.size(), 6u);
  ASSERT_TRUE(idx->manifests[3].platform);
  EXPECT_EQ(PlatformString(*idx->manifests[3].platform), "linux/arm64/v8");
  EXPECT_EQ(idx->manifests[5].platform->os_version, "10.0.17763.1");
  auto again = ParseIndex(SerializeIndex(*idx));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *idx);
}

TEST(IndexTest, Errors) {
  auto r = ParseIndex(R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" + D('1') +
                      R"(","size":1,"platform":{"os":"linux"}}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "index: manifests[0].platform.architecture: missing");
  r = ParseIndex(R"({"schemaVersion":2})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "index: manifests: missing");
  r = ParseIndex(R"({"schemaVersion":2,"manifests":{}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "index: manifests: expected an array");
  r = ParseIndex(kDockerManifest);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is a manifest, not an index"), std::string::npos);
  r = ParseIndex(R"({"schemaVersion":2,"manifests":[],"annotations":{"a":1}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "index: annotations.a: expected a string");
}

TEST(DetectKindTest, FromContentTypeDocumentOrShape) {
  EXPECT_EQ(DetectManifestKind("application/vnd.oci.image.index.v1+json; charset=utf-8", "garbage"),
            ManifestKind::kIndex);
  EXPECT_EQ(DetectManifestKind(media::kDockerManifest, ""), ManifestKind::kManifest);
  EXPECT_EQ(DetectManifestKind("application/json", kManifestList), ManifestKind::kIndex);
  EXPECT_EQ(DetectManifestKind("", kDockerManifest), ManifestKind::kManifest);
  EXPECT_EQ(DetectManifestKind("", R"({"schemaVersion":2,"manifests":[]})"), ManifestKind::kIndex);
  EXPECT_EQ(DetectManifestKind("", R"({"schemaVersion":2,"layers":[]})"), ManifestKind::kManifest);
  EXPECT_FALSE(DetectManifestKind("", R"({"schemaVersion":2})"));
  EXPECT_FALSE(DetectManifestKind("", "not json"));
  EXPECT_FALSE(DetectManifestKind("", "[1]"));
}

TEST(LayerCompressionTest, KnownTypes) {
  EXPECT_EQ(LayerCompression(media::kOciLayer), Compression::kNone);
  EXPECT_EQ(LayerCompression(media::kOciLayerGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(media::kDockerLayerGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(media::kDockerLayerForeignGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(media::kOciLayerNondistGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(media::kOciLayerZstd), Compression::kZstd);
  auto bad = LayerCompression("application/vnd.oci.image.layer.v1.tar+bzip2");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("tar+bzip2"), std::string::npos);
  EXPECT_EQ(CompressionName(Compression::kZstd), "zstd");
  EXPECT_EQ(CompressionName(Compression::kNone), "none");
}

TEST(ChainIdTest, MatchesTheOciDefinition) {
  Digest a = Sha256Of("a"), b = Sha256Of("b"), c = Sha256Of("c");
  std::vector<Digest> ids{a, b, c};
  auto chain = ChainIds(ids);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0], a);
  Digest ab = Sha256Of("sha256:" + a.hex() + " sha256:" + b.hex());
  EXPECT_EQ(chain[1], ab);
  EXPECT_EQ(chain[2], Sha256Of("sha256:" + ab.hex() + " sha256:" + c.hex()));
  // Independently computed: printf 'sha256:<a> sha256:<b>' | sha256sum, with a/b = sha256("a"), sha256("b").
  EXPECT_EQ(chain[1].hex(), "51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
  EXPECT_TRUE(ChainIds({}).empty());
}

}  // namespace
}  // namespace moor::image
