#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <string>

#include "image/core/manifest.h"

namespace moor::image {
namespace {

TEST(PlatformTest, ParseAndString) {
  auto p = ParsePlatform("linux/arm64/v8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->os, "linux");
  EXPECT_EQ(p->architecture, "arm64");
  EXPECT_EQ(p->variant, "v8");
  EXPECT_EQ(PlatformString(*p), "linux/arm64/v8");
  auto q = ParsePlatform("linux/amd64");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->variant, "");
  EXPECT_EQ(PlatformString(*q), "linux/amd64");
  for (std::string_view bad :
       {"", "linux", "linux/", "/amd64", "linux/amd64/", "linux/arm/v7/x", "Linux/AMD64", "linux/am d64"}) {
    auto r = ParsePlatform(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("os/arch[/variant]"), std::string::npos);
  }
}

TEST(PlatformTest, HostPlatformMapsUname) {
  struct utsname u {};
  ASSERT_EQ(uname(&u), 0);
  std::string machine = u.machine;
  Platform host = HostPlatform();
  EXPECT_EQ(host.os, "linux");
  if (machine == "x86_64") {
    EXPECT_EQ(PlatformString(host), "linux/amd64");
  } else if (machine == "aarch64") {
    EXPECT_EQ(PlatformString(host), "linux/arm64/v8");
  } else if (machine == "armv7l") {
    EXPECT_EQ(PlatformString(host), "linux/arm/v7");
  } else {
    EXPECT_FALSE(host.architecture.empty());
  }
}

TEST(PlatformTest, MachineNamesMapToGoarch) {
  EXPECT_EQ(PlatformString(PlatformForMachine("x86_64")), "linux/amd64");
  EXPECT_EQ(PlatformString(PlatformForMachine("aarch64")), "linux/arm64/v8");
  EXPECT_EQ(PlatformString(PlatformForMachine("armv7l")), "linux/arm/v7");
  EXPECT_EQ(PlatformString(PlatformForMachine("armv8l")), "linux/arm/v7");
  EXPECT_EQ(PlatformString(PlatformForMachine("armv6l")), "linux/arm/v6");
  EXPECT_EQ(PlatformString(PlatformForMachine("armv5tel")), "linux/arm/v5");
  EXPECT_EQ(PlatformString(PlatformForMachine("i686")), "linux/386");
  EXPECT_EQ(PlatformString(PlatformForMachine("ppc64le")), "linux/ppc64le");
  EXPECT_EQ(PlatformString(PlatformForMachine("s390x")), "linux/s390x");
  EXPECT_EQ(PlatformString(PlatformForMachine("riscv64")), "linux/riscv64");
  EXPECT_EQ(PlatformString(PlatformForMachine("loongarch64")), "linux/loong64");
}

Descriptor Entry(char digest, std::string os, std::string arch, std::string variant = "") {
  Descriptor d;
  d.media_type = std::string(media::kOciManifest);
  d.digest = Digest::FromHex(std::string(64, digest));
  d.size = 1;
  d.platform = Platform{std::move(os), std::move(arch), std::move(variant), ""};
  return d;
}

char Pick(const Index& idx, std::string_view want) {
  auto p = ParsePlatform(want);
  EXPECT_TRUE(p);
  auto d = SelectPlatform(idx, *p);
  if (!d) return '-';
  return d->digest.hex()[0];
}

TEST(SelectPlatformTest, ExactThenNormalisedThenMissingVariant) {
  Index idx;
  idx.manifests = {Entry('0', "unknown", "unknown"),   Entry('1', "linux", "amd64"),
                   Entry('2', "linux", "arm", "v6"),   Entry('3', "linux", "arm", "v7"),
                   Entry('4', "linux", "arm64", "v8"), Entry('5', "windows", "amd64")};
  EXPECT_EQ(Pick(idx, "linux/amd64"), '1');
  EXPECT_EQ(Pick(idx, "windows/amd64"), '5');
  EXPECT_EQ(Pick(idx, "linux/arm/v6"), '2');
  EXPECT_EQ(Pick(idx, "linux/arm/v7"), '3');
  EXPECT_EQ(Pick(idx, "linux/arm"), '3');    // arm == arm/v7
  EXPECT_EQ(Pick(idx, "linux/arm64"), '4');  // arm64 == arm64/v8
  EXPECT_EQ(Pick(idx, "linux/arm64/v8"), '4');
  EXPECT_EQ(Pick(idx, "linux/amd64/v3"), '1');  // index entry without variant
  EXPECT_EQ(Pick(idx, "linux/arm/v8"), '3');    // older ARM variants run on newer hosts
  EXPECT_EQ(Pick(idx, "linux/s390x"), '-');
  EXPECT_EQ(Pick(idx, "unknown/unknown"), '-');  // attestations are never chosen

  Index arm64_no_variant;
  arm64_no_variant.manifests = {Entry('7', "linux", "arm64"), Entry('8', "linux", "arm", "v5")};
  EXPECT_EQ(Pick(arm64_no_variant, "linux/arm64/v8"), '7');
  EXPECT_EQ(Pick(arm64_no_variant, "linux/arm/v7"), '8');
  EXPECT_EQ(Pick(arm64_no_variant, "linux/arm/v5"), '8');
}

TEST(SelectPlatformTest, ErrorListsPlatforms) {
  Index idx;
  idx.manifests = {Entry('4', "linux", "arm64", "v8"), Entry('1', "linux", "amd64"),
                   Entry('0', "unknown", "unknown")};
  Descriptor no_platform = Entry('9', "", "");
  no_platform.platform.reset();
  idx.manifests.push_back(no_platform);
  auto d = SelectPlatform(idx, Platform{"linux", "ppc64le", "", ""});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(),
            "no image for platform linux/ppc64le in the manifest list (it has: linux/amd64, linux/arm64/v8); "
            "choose one with --platform");
}

}  // namespace
}  // namespace moor::image
