// Metadata handling: owners (kept, dropped, forced), deferred directory modes
// and mtimes, and symlinks aimed at host files whose metadata must never change.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/archive/archive_test_util.h"

namespace moor::image {
namespace {

using testing::ExtractBytes;
using testing::IdOf;
using testing::TarBuilder;
using testing::TempDir;

struct stat Lstat(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

TarBuilder::Spec Owned(const std::string& name, mode_t type, uint32_t uid, uint32_t gid) {
  TarBuilder::Spec s;
  s.name = name;
  s.type = type;
  s.uid = uid;
  s.gid = gid;
  s.perm = type == AE_IFDIR ? 0755 : 0644;
  if (type == AE_IFLNK) s.symlink = "target";
  return s;
}

std::string OwnedTar() {
  return TarBuilder()
      .Add(Owned("d", AE_IFDIR, 100, 200))
      .Add(Owned("d/f", AE_IFREG, 101, 201))
      .Add(Owned("d/l", AE_IFLNK, 102, 202))
      .Finish();
}

TEST(Owners, KeptByDefault) {
  TempDir tmp;
  ASSERT_TRUE(ExtractBytes(OwnedTar(), tmp.path()));
  EXPECT_EQ(Lstat(tmp / "d").st_uid, 100u);
  EXPECT_EQ(Lstat(tmp / "d/f").st_gid, 201u);
  EXPECT_EQ(Lstat(tmp / "d/l").st_uid, 102u);
}

TEST(Owners, DroppedWithoutPreserve) {
  TempDir tmp;
  ExtractOptions o;
  o.preserve_owner = false;
  ASSERT_TRUE(ExtractBytes(OwnedTar(), tmp.path(), o));
  EXPECT_EQ(Lstat(tmp / "d/f").st_uid, ::geteuid());
  EXPECT_EQ(Lstat(tmp / "d/l").st_uid, ::geteuid());
}

TEST(Owners, ForcedOwnerWins) {
  TempDir tmp;
  ExtractOptions o;
  o.force_owner = std::make_pair(5000u, 6000u);
  ASSERT_TRUE(ExtractBytes(OwnedTar(), tmp.path(), o));
  for (const char* p : {"d", "d/f", "d/l"}) {
    EXPECT_EQ(Lstat(tmp / p).st_uid, 5000u) << p;
    EXPECT_EQ(Lstat(tmp / p).st_gid, 6000u) << p;
  }
}

TEST(Directories, ModeAndMtimeApplyAfterChildren) {
  TempDir tmp;
  TarBuilder::Spec ro;
  ro.name = "ro";
  ro.type = AE_IFDIR;
  ro.perm = 0555;
  ro.mtime = 1000;
  TarBuilder::Spec child;
  child.name = "ro/sub/file";
  child.data = "x";
  child.mtime = 2000;
  auto r = ExtractBytes(TarBuilder().Add(ro).Add(child).Dir("ro/sub", 0700).Finish(), tmp.path());
  ASSERT_TRUE(r) << r.error().message();
  struct stat st = Lstat(tmp / "ro");
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000) << "writing children must not leave a fresh mtime";
  EXPECT_EQ(Lstat(tmp / "ro/sub").st_mode & 07777, 0700u);
  EXPECT_EQ(Lstat(tmp / "ro/sub/file").st_mtim.tv_sec, 2000);
}

TEST(Directories, LaterEntryOfTheSameNameWins) {
  TempDir tmp;
  auto r = ExtractBytes(
      TarBuilder().Dir("x", 0700).File("x", "now a file", 0600).Dir("y", 0700).Dir("y", 0711).Finish(),
      tmp.path());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(S_ISREG(Lstat(tmp / "x").st_mode));
  EXPECT_EQ(Lstat(tmp / "x").st_mode & 07777, 0600u);
  EXPECT_EQ(Lstat(tmp / "y").st_mode & 07777, 0711u);
}

// Symlinks aimed at real host files, by absolute and by climbing relative
// path; every metadata-carrying entry of the same name comes after them.
TEST(HostTargets, MetadataNeverFollowsSymlinks) {
  TempDir tmp;
  std::string host = tmp / "host-file";
  ASSERT_TRUE(WriteFileAtomic(host, "host"));
  ASSERT_EQ(::chmod(host.c_str(), 0600), 0);
  ASSERT_EQ(::mkdir((tmp / "root").c_str(), 0755), 0);
  auto before = IdOf(host);
  auto etc_before = IdOf("/etc");
  auto passwd_before = IdOf("/etc/passwd");

  TarBuilder::Spec abs;
  abs.name = "abs";
  abs.type = AE_IFLNK;
  abs.symlink = host;
  abs.perm = 0777;
  abs.uid = 9999;
  abs.mtime = 42;
  TarBuilder::Spec rel = abs;
  rel.name = "rel";
  rel.symlink = "../host-file";
  TarBuilder::Spec pw = abs;
  pw.name = "pw";
  pw.symlink = "/etc/passwd";
  TarBuilder::Spec etc = abs;
  etc.name = "etc";
  etc.symlink = "/etc";
  TarBuilder::Spec fifo;
  fifo.name = "abs";
  fifo.type = AE_IFIFO;
  fifo.perm = 0666;
  fifo.uid = 9999;
  auto r = ExtractBytes(TarBuilder().Add(abs).Add(rel).Add(pw).Add(etc).Dir("dir", 0777).Add(fifo).Finish(),
                        tmp / "root");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(S_ISFIFO(Lstat(tmp / "root/abs").st_mode));
  EXPECT_EQ(Lstat(tmp / "root/rel").st_uid, 9999u);
  EXPECT_EQ(Lstat(tmp / "root/rel").st_mtim.tv_sec, 42);
  EXPECT_TRUE(IdOf(host) == before) << "host file metadata changed";
  EXPECT_TRUE(IdOf("/etc") == etc_before);
  EXPECT_TRUE(IdOf("/etc/passwd") == passwd_before);
}

TEST(HostTargets, DirectoryReplacedBySymlinkGetsNoDeferredMetadata) {
  TempDir tmp;
  std::string host_dir = tmp / "hostdir";
  ASSERT_EQ(::mkdir(host_dir.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((tmp / "root").c_str(), 0755), 0);
  auto before = IdOf(host_dir);
  TarBuilder::Spec d;
  d.name = "d";
  d.type = AE_IFDIR;
  d.perm = 0777;
  d.mtime = 7;
  auto r = ExtractBytes(TarBuilder().Add(d).Symlink("d", host_dir).Finish(), tmp / "root");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(S_ISLNK(Lstat(tmp / "root/d").st_mode));
  EXPECT_TRUE(IdOf(host_dir) == before);
}

}  // namespace
}  // namespace moor::image
