#include "image/core/reference.h"

#include <gtest/gtest.h>

namespace moor::image {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

Reference MustParse(std::string_view s) {
  auto r = Reference::Parse(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << r.error().message();
  return r.value_or(Reference{});
}

TEST(ReferenceTest, ShortNameGetsLibraryAndLatest) {
  Reference r = MustParse("busybox");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_FALSE(r.digest);
  EXPECT_EQ(r.String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r.Repository(), "docker.io/library/busybox");
  EXPECT_EQ(r.Familiar(), "busybox:latest");
  EXPECT_EQ(r.ManifestRef(), "latest");
  EXPECT_EQ(r.RegistryHost(), "registry-1.docker.io");
}

TEST(ReferenceTest, DockerIoAndIndexDockerIoNormalise) {
  EXPECT_EQ(MustParse("docker.io/busybox").String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(MustParse("index.docker.io/busybox:1.36").String(), "docker.io/library/busybox:1.36");
  EXPECT_EQ(MustParse("docker.io/library/busybox").String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(MustParse("index.docker.io/team/app").String(), "docker.io/team/app:latest");
}

TEST(ReferenceTest, UserRepositoryOnDockerHub) {
  Reference r = MustParse("team/app:v1");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "team/app");
  EXPECT_EQ(r.Familiar(), "team/app:v1");
}

TEST(ReferenceTest, RegistryHostDetection) {
  Reference r = MustParse("localhost:5000/app:1.2");
  EXPECT_EQ(r.domain, "localhost:5000");
  EXPECT_EQ(r.path, "app");
  EXPECT_EQ(r.tag, "1.2");
  EXPECT_EQ(r.Familiar(), "localhost:5000/app:1.2");
  EXPECT_EQ(r.RegistryHost(), "localhost:5000");

  EXPECT_EQ(MustParse("localhost/app").domain, "localhost");
  EXPECT_EQ(MustParse("reg.example/team/app").domain, "reg.example");
  EXPECT_EQ(MustParse("reg.example/team/app").path, "team/app");
  EXPECT_EQ(MustParse("127.0.0.1:5000/a/b/c").path, "a/b/c");
  EXPECT_EQ(MustParse("[::1]:5000/app").domain, "[::1]:5000");
  // An uppercase first component can only be a host (repositories are lowercase).
  EXPECT_EQ(MustParse("Registry/app").domain, "Registry");
  // "localhost:5000" alone: the part after ':' is a tag, as in Docker.
  Reference lone = MustParse("localhost:5000");
  EXPECT_EQ(lone.path, "library/localhost");
  EXPECT_EQ(lone.tag, "5000");
}

TEST(ReferenceTest, DigestOnlyAndTagPlusDigest) {
  Reference by_digest = MustParse("reg.example/team/app@sha256:" + kHex);
  ASSERT_TRUE(by_digest.digest);
  EXPECT_EQ(by_digest.digest->hex(), kHex);
  EXPECT_EQ(by_digest.tag, "");
  EXPECT_EQ(by_digest.ManifestRef(), "sha256:" + kHex);
  EXPECT_EQ(by_digest.String(), "reg.example/team/app@sha256:" + kHex);
  EXPECT_EQ(by_digest.Familiar(), "reg.example/team/app@sha256:" + kHex);

  Reference both = MustParse("busybox:1.36@sha256:" + kHex);
  EXPECT_EQ(both.tag, "1.36");
  ASSERT_TRUE(both.digest);
  EXPECT_EQ(both.ManifestRef(), "sha256:" + kHex);
  EXPECT_EQ(both.String(), "docker.io/library/busybox:1.36@sha256:" + kHex);
  EXPECT_EQ(both.Familiar(), "busybox:1.36@sha256:" + kHex);
}

TEST(ReferenceTest, SeparatorsInPath) {
  EXPECT_EQ(MustParse("team/a.b_c__d---e/f-g").path, "team/a.b_c__d---e/f-g");
  // A dotted first component is a registry host, not a path.
  EXPECT_EQ(MustParse("a.b/c").domain, "a.b");
  EXPECT_EQ(MustParse("x/y/z/w").path, "x/y/z/w");
  // library/ stays when the path has more components.
  EXPECT_EQ(MustParse("library/a/b").Familiar(), "library/a/b:latest");
}

TEST(ReferenceTest, TagCharacters) {
  EXPECT_EQ(MustParse("app:V1.2_rc-3").tag, "V1.2_rc-3");
  EXPECT_EQ(MustParse("app:_x").tag, "_x");
  EXPECT_EQ(MustParse("app:" + std::string(128, 'a')).tag.size(), 128u);
}

void ExpectBad(std::string_view s, std::string_view fragment) {
  auto r = Reference::Parse(s);
  ASSERT_FALSE(r.has_value()) << s << " parsed as " << r->String();
  EXPECT_NE(r.error().message().find(fragment), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
}

TEST(ReferenceTest, BadInput) {
  ExpectBad("", "empty");
  ExpectBad("BusyBox", "must be lowercase");
  ExpectBad("docker.io/Team/app", "must be lowercase");
  ExpectBad("busybox:", "tag \"\"");
  ExpectBad("busybox:-bad", "tag \"-bad\"");
  ExpectBad("busybox:a/b", "");
  ExpectBad("busybox:" + std::string(129, 'a'), "tag");
  ExpectBad("busybox:t@sha256:abc", "sha256");
  ExpectBad("busybox@md5:" + kHex, "unsupported algorithm");
  ExpectBad("busybox@", "digest");
  ExpectBad("@sha256:" + kHex, "empty");
  ExpectBad(":tag", "empty");
  ExpectBad("a//b", "empty path component");
  ExpectBad("team/", "empty path component");
  ExpectBad("/app", "");
  ExpectBad("a..b", "path component \"a..b\"");
  ExpectBad("a___b", "path component");
  ExpectBad("-app", "path component");
  ExpectBad("app-", "path component");
  ExpectBad("a-_b", "path component");
  ExpectBad("app name", "path component");
  ExpectBad("reg.example:port/app", "registry host");
  ExpectBad("reg..example/app", "registry host");
  ExpectBad("-reg.example/app", "registry host");
  ExpectBad("localhost:/app", "registry host");
  ExpectBad(kHex, "image ID");
  ExpectBad("reg.example/" + std::string(250, 'a'), "longer than 255");
}

}  // namespace
}  // namespace moor::image
