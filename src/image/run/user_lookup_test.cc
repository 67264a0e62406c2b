#include "image/run/user_lookup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "image/run/test_util.h"

namespace moor::image {
namespace {

using testing::Put;
using testing::TempDir;

class UserLookup : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Put(t_ / "etc/passwd",
                    "root:x:0:0:root:/root:/bin/sh\n"
                    "# a comment\n"
                    "www-data:x:33:33:www:/var/www:/usr/sbin/nologin\n"
                    "broken:x:notanumber:1::/:\n"
                    "app:x:1000:1000::/home/app:/bin/sh\n"));
    ASSERT_TRUE(Put(t_ / "etc/group",
                    "root:x:0:\n"
                    "www-data:x:33:\n"
                    "audio:x:29:app,www-data\n"
                    "video:x:44: app \n"
                    "app:x:1000:app\n"
                    "staff:x:50:other\n"));
  }
  std::string root() const { return t_.path(); }
  TempDir t_;
};

TEST_F(UserLookup, EmptyMeansRootWithRootsGroups) {
  auto u = ResolveUser(root(), "");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_TRUE(u->additional_gids.empty());
}

TEST_F(UserLookup, NameGivesUidGidAndMemberships) {
  auto u = ResolveUser(root(), "app");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{29, 44}));  // its own group 1000 is primary
}

TEST_F(UserLookup, NameAndGroupName) {
  auto u = ResolveUser(root(), "www-data:www-data");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->uid, 33u);
  EXPECT_EQ(u->gid, 33u);
  EXPECT_EQ(u->additional_gids, std::vector<uint32_t>{29});
}

TEST_F(UserLookup, NumericForms) {
  auto known = ResolveUser(root(), "33");
  ASSERT_TRUE(known);
  EXPECT_EQ(known->gid, 33u);  // primary group from passwd
  auto unknown = ResolveUser(root(), "4242");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->uid, 4242u);
  EXPECT_EQ(unknown->gid, 0u);
  auto both = ResolveUser(root(), "4242:77");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->uid, 4242u);
  EXPECT_EQ(both->gid, 77u);
  auto mixed = ResolveUser(root(), "app:50");
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->gid, 50u);
  EXPECT_EQ(mixed->additional_gids, (std::vector<uint32_t>{29, 44, 1000}));
}

TEST_F(UserLookup, UnknownNamesFailWithDockersMessage) {
  auto u = ResolveUser(root(), "nobody");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message(), "unable to find user nobody: no matching entries in passwd file");
  auto g = ResolveUser(root(), "app:nogroup");
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().message(), "unable to find group nogroup: no matching entries in group file");
  EXPECT_FALSE(ResolveUser(root(), "broken"));
  EXPECT_FALSE(ResolveUser(root(), "app:"));
  EXPECT_FALSE(ResolveUser(root(), ":0"));
  EXPECT_FALSE(ResolveUser(root(), "99999999999"));  // > uint32: a name, not found
}

TEST_F(UserLookup, MissingFilesCountAsEmpty) {
  TempDir empty;
  auto u = ResolveUser(empty.path(), "12:34");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->uid, 12u);
  EXPECT_EQ(u->gid, 34u);
  EXPECT_FALSE(ResolveUser(empty.path(), "app"));
  auto none = ResolveUser("", "5");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->uid, 5u);
}

TEST_F(UserLookup, AbsoluteSymlinkStaysInsideTheRootfs) {
  // /etc/passwd → /real/passwd must resolve inside the rootfs, not on the host.
  TempDir r;
  ASSERT_TRUE(Put(r / "real/passwd", "inside:x:777:777::/:/bin/sh\n"));
  ASSERT_TRUE(MkdirAll(r / "etc"));
  ASSERT_EQ(::symlink("/real/passwd", (r / "etc/passwd").c_str()), 0);
  auto u = ResolveUser(r.path(), "inside");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->uid, 777u);
  // And ../../ cannot climb out to the host's /etc/passwd (which has root).
  TempDir esc;
  ASSERT_TRUE(MkdirAll(esc / "etc"));
  ASSERT_EQ(::symlink("../../../../../../../../etc/passwd", (esc / "etc/passwd").c_str()), 0);
  auto root_user = ResolveUser(esc.path(), "root");
  ASSERT_FALSE(root_user);
}

TEST_F(UserLookup, NonRegularPasswdIsRefused) {
  TempDir r;
  ASSERT_TRUE(MkdirAll(r / "etc/passwd"));
  auto u = ResolveUser(r.path(), "x");
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message().find("not a regular file"), std::string::npos) << u.error().message();
}

}  // namespace
}  // namespace moor::image
