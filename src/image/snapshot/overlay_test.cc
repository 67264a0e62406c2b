// MountOverlay / UnmountOverlay against the real kernel (needs root).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/strings.h"
#include "image/snapshot/overlay_internal.h"
#include "image/snapshot/snapshotter.h"
#include "image/snapshot/test_util.h"

namespace moor::image {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

bool IsMounted(const std::string& target) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return false;
  for (const auto& line : Split(*info, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 4 && f[4] == target) return true;
  }
  return false;
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    target_ = t_ / "merged";
    ASSERT_TRUE(MkdirAll(target_));
  }
  void TearDown() override {
    while (!target_.empty() && IsMounted(target_)) (void)UnmountOverlay(target_);
  }
  std::string Layer(const std::string& name) {
    std::string d = t_ / name;
    EXPECT_TRUE(MkdirAll(d));
    return d;
  }

  TempDir t_;
  std::string target_;
};

TEST_F(OverlayTest, MergesLayersWithWhiteoutsAndOpaqueDirs) {
  std::string l0 = Layer("l0"), l1 = Layer("l1"), l2 = Layer("l2");
  // Lowest layer.
  ASSERT_TRUE(WriteText(l0 + "/a", "0"));
  ASSERT_TRUE(WriteText(l0 + "/b", "0"));
  ASSERT_TRUE(WriteText(l0 + "/gone", "0"));
  ASSERT_TRUE(MkdirAll(l0 + "/opq"));
  ASSERT_TRUE(WriteText(l0 + "/opq/old", "0"));
  ASSERT_TRUE(MkdirAll(l0 + "/dir"));
  ASSERT_TRUE(WriteText(l0 + "/dir/x", "0"));
  // Middle layer: whiteout for /gone, /opq opaque.
  ASSERT_TRUE(WriteText(l1 + "/a", "1"));
  ASSERT_TRUE(WriteText(l1 + "/b", "1"));
  ASSERT_EQ(::mknod((l1 + "/gone").c_str(), S_IFCHR | 0, ::makedev(0, 0)), 0);
  ASSERT_TRUE(MkdirAll(l1 + "/opq"));
  ASSERT_EQ(::setxattr((l1 + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_TRUE(WriteText(l1 + "/opq/new", "1"));
  // Top layer.
  ASSERT_TRUE(WriteText(l2 + "/a", "2"));

  auto r = MountOverlay({l0, l1, l2}, t_ / "rw", target_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(IsMounted(target_));
  EXPECT_EQ(ReadText(target_ + "/a"), "2");  // the last lower is the top
  EXPECT_EQ(ReadText(target_ + "/b"), "1");
  EXPECT_FALSE(PathExists(target_ + "/gone"));
  EXPECT_TRUE(PathExists(target_ + "/opq/new"));
  EXPECT_FALSE(PathExists(target_ + "/opq/old"));
  EXPECT_EQ(ReadText(target_ + "/dir/x"), "0");

  ASSERT_TRUE(WriteText(target_ + "/dir/written", "w"));
  EXPECT_EQ(ReadText(t_ / "rw/upper/dir/written"), "w");
  EXPECT_FALSE(PathExists(l2 + "/dir/written"));
  EXPECT_FALSE(PathExists(l0 + "/dir/written"));

  ASSERT_TRUE(UnmountOverlay(target_));
  EXPECT_FALSE(IsMounted(target_));
  EXPECT_FALSE(PathExists(target_ + "/a"));
}

TEST_F(OverlayTest, ManyLayersWithLongPaths) {
  constexpr int kLayers = 48;
  std::string long_name(200, 'p');
  std::vector<std::string> lowers;
  for (int i = 0; i < kLayers; ++i) {
    std::string d = Layer(long_name + std::to_string(i));
    ASSERT_TRUE(WriteText(d + "/f" + std::to_string(i), std::to_string(i)));
    ASSERT_TRUE(WriteText(d + "/shared", std::to_string(i)));
    lowers.push_back(d);
  }
  auto r = MountOverlay(lowers, t_ / "rw", target_);
  ASSERT_TRUE(r) << r.error().message();
  for (int i = 0; i < kLayers; ++i)
    EXPECT_EQ(ReadText(target_ + "/f" + std::to_string(i)), std::to_string(i));
  EXPECT_EQ(ReadText(target_ + "/shared"), std::to_string(kLayers - 1));
  ASSERT_TRUE(UnmountOverlay(target_));
  EXPECT_FALSE(IsMounted(target_));
}

TEST_F(OverlayTest, LayerPathsWithColonsAndCommas) {
  std::string l0 = Layer("we:ird,0"), l1 = Layer("we:ird,1");
  ASSERT_TRUE(WriteText(l0 + "/x", "0"));
  ASSERT_TRUE(WriteText(l1 + "/y", "1"));
  auto r = MountOverlay({l0, l1}, t_ / "rw", target_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadText(target_ + "/x"), "0");
  EXPECT_EQ(ReadText(target_ + "/y"), "1");
}

TEST_F(OverlayTest, NoLowersGivesAnEmptyWritableRoot) {
  auto r = MountOverlay({}, t_ / "rw", target_);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(WriteText(target_ + "/new", "n"));
  EXPECT_EQ(ReadText(t_ / "rw/upper/new"), "n");
  EXPECT_FALSE(PathExists(t_ / "rw/empty/new"));
}

TEST_F(OverlayTest, ReadOnlyWithTwoLowers) {
  std::string l0 = Layer("l0"), l1 = Layer("l1");
  ASSERT_TRUE(WriteText(l0 + "/x", "0"));
  ASSERT_TRUE(WriteText(l1 + "/x", "1"));
  auto r = MountOverlay({l0, l1}, t_ / "rw", target_, /*read_only=*/true);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadText(target_ + "/x"), "1");
  EXPECT_FALSE(WriteText(target_ + "/y", "y"));
  EXPECT_FALSE(PathExists(t_ / "rw/upper"));
}

TEST_F(OverlayTest, ReadOnlySingleLowerIsABindMount) {
  std::string l0 = Layer("l0");
  ASSERT_TRUE(WriteText(l0 + "/x", "0"));
  auto r = MountOverlay({l0}, t_ / "rw", target_, /*read_only=*/true);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadText(target_ + "/x"), "0");
  errno = 0;
  int fd = ::open((target_ + "/y").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  ASSERT_TRUE(UnmountOverlay(target_));
  EXPECT_FALSE(IsMounted(target_));
}

TEST_F(OverlayTest, MissingLowerFailsNamingIt) {
  auto r = MountOverlay({t_ / "nope"}, t_ / "rw", target_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(t_ / "nope"), std::string::npos) << r.error().message();
  EXPECT_FALSE(IsMounted(target_));
}

TEST_F(OverlayTest, UnmountOfNothingSucceeds) {
  EXPECT_TRUE(UnmountOverlay(target_));
}

}  // namespace
}  // namespace moor::image

namespace moor::image {
namespace {

TEST_F(OverlayTest, LegacyMountOptionPathEscapesAndOrders) {
  std::string l0 = Layer("le:g,0"), l1 = Layer("leg1");
  ASSERT_TRUE(WriteText(l0 + "/x", "0"));
  ASSERT_TRUE(WriteText(l0 + "/only0", "0"));
  ASSERT_TRUE(WriteText(l1 + "/x", "1"));
  ASSERT_TRUE(MkdirAll(t_ / "rw/upper") && MkdirAll(t_ / "rw/work"));
  auto r = snapshot_internal::MountOverlayLegacy({l1, l0}, t_ / "rw/upper", t_ / "rw/work", target_, false);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadText(target_ + "/x"), "1");
  EXPECT_EQ(ReadText(target_ + "/only0"), "0");
  ASSERT_TRUE(WriteText(target_ + "/w", "w"));
  EXPECT_TRUE(PathExists(t_ / "rw/upper/w"));
}

TEST_F(OverlayTest, LegacyMountRefusesTooManyLayersWithAClearError) {
  std::vector<std::string> lowers(40, t_ / std::string(200, 'q'));
  auto r = snapshot_internal::MountOverlayLegacy(lowers, t_ / "u", t_ / "w", target_, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("do not fit"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace moor::image
