// Hostile layers: every entry here tries to write, link, chmod or delete
// outside the extraction root. Each test extracts into tmp/root next to a
// sentinel directory tmp/outside; the fixture proves afterwards that nothing
// outside the root changed (the sentinel tree, tmp itself, host files).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>

#include "image/archive/archive_test_util.h"

namespace moor::image {
namespace {

using testing::Compress;
using testing::FileId;
using testing::IdOf;
using testing::Snapshot;
using testing::TarBuilder;
using testing::TempDir;

class HostileLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_ / "root";
    outside_ = tmp_ / "outside";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    ASSERT_TRUE(WriteFileAtomic(outside_ + "/sentinel", "untouched"));
    ASSERT_EQ(::chmod((outside_ + "/sentinel").c_str(), 0644), 0);
    probe_ = "moor-archive-probe-" + std::to_string(::getpid());
    outside_snapshot_ = Snapshot(outside_);
    outside_id_ = IdOf(outside_);
    sentinel_id_ = IdOf(outside_ + "/sentinel");
    passwd_id_ = IdOf("/etc/passwd");
    passwd_ = *ReadFile("/etc/passwd");
  }

  void TearDown() override {
    EXPECT_EQ(Snapshot(outside_), outside_snapshot_) << "the sentinel tree changed";
    EXPECT_TRUE(IdOf(outside_) == outside_id_) << "the sentinel directory's metadata changed";
    EXPECT_TRUE(IdOf(outside_ + "/sentinel") == sentinel_id_) << "the sentinel file's metadata changed";
    EXPECT_TRUE(IdOf("/etc/passwd") == passwd_id_) << "/etc/passwd changed";
    EXPECT_EQ(*ReadFile("/etc/passwd"), passwd_);
    auto top = Snapshot(tmp_.path(), false);
    for (const auto& [path, desc] : top) {
      EXPECT_TRUE(path.rfind("root", 0) == 0 || path.rfind("outside", 0) == 0) << "written outside: " << path;
    }
    EXPECT_FALSE(PathExists("/" + probe_));
    EXPECT_FALSE(PathExists("/tmp/" + probe_));
  }

  Result<ExtractResult> Extract(const std::string& tar, const ExtractOptions& opts = {}) {
    return testing::ExtractBytes(tar, root_, opts);
  }

  static void ExpectError(const Result<ExtractResult>& r, const std::string& fragment) {
    ASSERT_FALSE(r) << "expected an error containing \"" << fragment << "\"";
    EXPECT_NE(r.error().message().find(fragment), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << "one line";
  }

  TempDir tmp_;
  std::string root_, outside_, probe_, passwd_;
  std::map<std::string, std::string> outside_snapshot_;
  FileId outside_id_, sentinel_id_, passwd_id_;
};

TEST_F(HostileLayer, DotDotNamesAreRejected) {
  ExpectError(Extract(TarBuilder().File("../escape", "x").Finish()), "\"../escape\" points outside");
  ExpectError(Extract(TarBuilder().File("a/../../escape", "x").Finish()), "outside the layer root");
  ExpectError(Extract(TarBuilder().Dir("../outside/sub").Finish()), "outside the layer root");
  ExpectError(Extract(TarBuilder().Symlink("../" + probe_, "/").Finish()), "outside the layer root");
}

TEST_F(HostileLayer, AbsoluteNamesLandInsideTheRoot) {
  ASSERT_TRUE(Extract(TarBuilder().File("/etc/x", "inside").File(outside_ + "/sentinel", "inside").Finish()));
  EXPECT_EQ(*ReadFile(root_ + "/etc/x"), "inside");
  EXPECT_EQ(*ReadFile(root_ + outside_ + "/sentinel"), "inside");
}

TEST_F(HostileLayer, SymlinkToSlashThenFileThroughIt) {
  auto r = Extract(TarBuilder().Symlink("link", "/").File("link/etc/passwd", "pwned").Finish());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*ReadFile(root_ + "/etc/passwd"), "pwned");
}

TEST_F(HostileLayer, RelativeSymlinkClimbingOutIsClampedToTheRoot) {
  auto r = Extract(TarBuilder().Symlink("l", "../../..").File("l/" + probe_, "x").Finish());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(PathExists(root_ + "/" + probe_));
}

TEST_F(HostileLayer, SymlinkToOutsideDirectoryThenFilesAndDirsThroughIt) {
  // Dangling inside the root: refused, naming the symlink.
  ExpectError(Extract(TarBuilder().Symlink("o", outside_).File("o/sentinel", "x").Finish()),
              "\"o\" is a symlink to a directory that does not exist inside the root");
  ExpectError(Extract(TarBuilder().Symlink("o2", "../outside").File("o2/sentinel", "x").Finish()),
              "does not exist inside the root");
  // Present inside the root (as in a real image): followed, but inside.
  auto r = Extract(TarBuilder()
                       .Dir(outside_)
                       .Dir("outside")
                       .Symlink("o", outside_)
                       .File("o/sentinel", "overwritten?")
                       .Dir("o/newdir", 0777)
                       .Symlink("rel", "../outside")
                       .File("rel/sentinel", "overwritten?")
                       .Finish());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*ReadFile(root_ + outside_ + "/sentinel"), "overwritten?");
  EXPECT_EQ(*ReadFile(root_ + "/outside/sentinel"), "overwritten?");
}

TEST_F(HostileLayer, SymlinkChainsStayConfined) {
  auto r = Extract(TarBuilder()
                       .Symlink("a", "b")
                       .Symlink("b", "../c")
                       .Symlink("c", "../../outside")
                       .File("a/sentinel", "x")
                       .Finish());
  // "outside" does not exist inside the root: an error or a file inside it, never outside.
  if (r) {
    EXPECT_TRUE(PathExists(root_ + "/outside/sentinel"));
  }
}

TEST_F(HostileLayer, SymlinkLoopIsAnError) {
  auto r = Extract(TarBuilder().Symlink("x", "y").Symlink("y", "x").File("x/f", "f").Finish());
  ExpectError(r, "x/f");
}

TEST_F(HostileLayer, HardlinkToHostFilesIsRefused) {
  ExpectError(Extract(TarBuilder().Hardlink("pw", "/etc/passwd").Finish()), "does not exist in the layer");
  ExpectError(Extract(TarBuilder().Hardlink("s", "../outside/sentinel").Finish()), "outside the layer root");
  ExpectError(Extract(TarBuilder().Hardlink("s", "../../outside/sentinel").Finish()),
              "outside the layer root");
  ExpectError(Extract(TarBuilder().Hardlink("s", outside_ + "/sentinel").Finish()), "does not exist");
}

TEST_F(HostileLayer, HardlinkThroughSymlinkedParentIsRefused) {
  ExpectError(Extract(TarBuilder().Symlink("l", outside_).Hardlink("h", "l/sentinel").Finish()),
              "does not exist");
  ExpectError(Extract(TarBuilder().Symlink("e", "/etc").Hardlink("h", "e/passwd").Finish()),
              "does not exist");
  ExpectError(Extract(TarBuilder().Symlink("up", "../..").Hardlink("h", "up/outside/sentinel").Finish()),
              "does not exist");
}

TEST_F(HostileLayer, HardlinkToSymlinkOrDirectoryIsRefused) {
  ExpectError(Extract(TarBuilder().Symlink("s", outside_ + "/sentinel").Hardlink("h", "s").Finish()),
              "not a regular file");
  ExpectError(Extract(TarBuilder().Dir("d").Hardlink("h", "d").Finish()), "not a regular file");
}

TEST_F(HostileLayer, HardlinkInsideTheLayerWorks) {
  auto r = Extract(TarBuilder().File("a/f", "data").Hardlink("b/g", "./a/f").Finish());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*ReadFile(root_ + "/b/g"), "data");
}

TEST_F(HostileLayer, BadWhiteoutsAreRejected) {
  ExpectError(Extract(TarBuilder().File(".wh..", "").Finish()), "names no entry");
  ExpectError(Extract(TarBuilder().File("a/.wh...", "").Finish()), "names no entry");
  ExpectError(Extract(TarBuilder().File("../.wh.outside", "").Finish()), "outside the layer root");
  ExtractOptions flat;
  flat.whiteouts = WhiteoutMode::kFlatten;
  ExpectError(Extract(TarBuilder().File("../.wh.outside", "").Finish(), flat), "outside the layer root");
}

TEST_F(HostileLayer, WhiteoutsThroughSymlinksStayInside) {
  for (auto mode : {WhiteoutMode::kOverlay, WhiteoutMode::kFlatten}) {
    ExtractOptions o;
    o.whiteouts = mode;
    auto r = Extract(TarBuilder()
                         .Dir(outside_)
                         .Symlink("o", outside_)
                         .File("o/.wh.sentinel", "")
                         .Symlink("up", "../..")
                         .File("up/outside/.wh.sentinel", "")
                         .File("up/.wh.outside", "")
                         .File("o/.wh..wh..opq", "")
                         .Finish(),
                     o);
    EXPECT_TRUE(r) << r.error().message();
  }
}

TEST_F(HostileLayer, DevicesRefusedWhenNotAllowed) {
  ExtractOptions o;
  o.allow_devices = false;
  ExpectError(Extract(TarBuilder().Node("dev/sda", AE_IFBLK, makedev(8, 0)).Finish(), o),
              "\"dev/sda\": is a device node");
  ExpectError(Extract(TarBuilder().Node("mem", AE_IFCHR, makedev(1, 1)).Finish(), o), "\"mem\"");
  EXPECT_FALSE(PathExists(root_ + "/dev/sda"));
  EXPECT_FALSE(PathExists(root_ + "/mem"));
  // fifos are not devices.
  ASSERT_TRUE(Extract(TarBuilder().Node("fifo", AE_IFIFO).Finish(), o));
}

TEST_F(HostileLayer, EntryLargerThanLimit) {
  ExtractOptions o;
  o.limits.max_entry_bytes = 1000;
  ExpectError(Extract(TarBuilder().File("big", std::string(2000, 'b')).Finish(), o), "max_entry_bytes");
  EXPECT_FALSE(PathExists(root_ + "/big"));
}

TEST_F(HostileLayer, TotalBytesLimit) {
  ExtractOptions o;
  o.limits.max_total_bytes = 1000;
  TarBuilder t;
  for (int i = 0; i < 3; ++i) t.File("f" + std::to_string(i), std::string(400, 'x'));
  ExpectError(Extract(t.Finish(), o), "max_total_bytes");
}

TEST_F(HostileLayer, GzipBombIsStopped) {
  // One 100 MiB file of zeros: a ustar header, then 100 gzip members of 1 MiB
  // of zeros each (concatenated members are one valid gzip stream). Building
  // it this way keeps the test from compressing 100 MiB.
  std::string header(512, '\0');
  auto put = [&](size_t off, const std::string& v) { header.replace(off, v.size(), v); };
  put(0, "bomb");
  put(100, "0000644");
  put(108, "0000000");
  put(116, "0000000");
  put(124, "00620000000");  // 100 MiB in octal
  put(136, "00000000000");
  put(156, "0");
  put(257, std::string("ustar\0"
                       "00",
                       8));
  put(148, "        ");
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  put(148, std::string(chk, 7));
  std::string zeros_gz = Compress(std::string(1 << 20, '\0'), Compression::kGzip, 9);
  std::string gz = Compress(header, Compression::kGzip);
  for (int i = 0; i < 100; ++i) gz += zeros_gz;
  ASSERT_LT(gz.size(), 1u << 20);
  ExtractOptions o;
  o.limits.max_ratio = 50;
  ExpectError(Extract(gz, o), "max_ratio");
}

TEST_F(HostileLayer, TooManyEntries) {
  ExtractOptions o;
  o.limits.max_entries = 10;
  TarBuilder t;
  for (int i = 0; i < 20; ++i) t.File("f" + std::to_string(i), "");
  ExpectError(Extract(t.Finish(), o), "max_entries");
}

TEST_F(HostileLayer, OverlongPaths) {
  ExtractOptions o;
  o.limits.max_path_bytes = 256;
  ExpectError(Extract(TarBuilder().File(std::string(300, 'a'), "").Finish(), o), "max_path_bytes");
  ExpectError(Extract(TarBuilder().Symlink("s", std::string(300, 'a')).Finish(), o), "max_path_bytes");
  // Longer than the kernel's NAME_MAX in one component: the kernel's error, named.
  auto r = Extract(TarBuilder().File(std::string(300, 'b'), "").Finish());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("File name too long"), std::string::npos) << r.error().message();
}

TEST_F(HostileLayer, TruncatedAndGarbageStreams) {
  std::string tar = TarBuilder().File("a", std::string(50000, 'a')).File("b", "b").Finish();
  std::string gz = Compress(tar, Compression::kGzip);
  ExpectError(Extract(gz.substr(0, gz.size() / 2)), "truncated");
  std::string zst = Compress(tar, Compression::kZstd);
  ExpectError(Extract(zst.substr(0, zst.size() - 5)), "truncated");
  ExpectError(Extract(tar.substr(0, 700)), "tar");
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) ^ (i >> 3));
  ExpectError(Extract(garbage), "not a valid tar");
  ExpectError(Extract("\x1f\x8b" + garbage), "gzip");
  ExpectError(Extract(gz + "junk"), "after the end");
}

TEST_F(HostileLayer, ReplacingASymlinkNeverTouchesItsTarget) {
  std::string target = outside_ + "/sentinel";
  TarBuilder::Spec dir;
  dir.name = "s";
  dir.type = AE_IFDIR;
  dir.perm = 0777;
  dir.uid = 4242;
  dir.mtime = 1;
  TarBuilder::Spec file;
  file.name = "t";
  file.perm = 04777;
  file.uid = 4242;
  file.data = "replaced";
  auto r = Extract(TarBuilder()
                       .Symlink("s", target)
                       .Add(dir)
                       .Symlink("t", target)
                       .Add(file)
                       .Symlink("d", outside_)
                       .Dir("d", 0777)
                       .Finish());
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/s").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(*ReadFile(root_ + "/t"), "replaced");
}

TEST_F(HostileLayer, SymlinkMetadataNeverReachesTheTarget) {
  TarBuilder::Spec link;
  link.name = "h";
  link.type = AE_IFLNK;
  link.perm = 0777;
  link.symlink = outside_ + "/sentinel";
  link.uid = 4242;
  link.gid = 4343;
  link.mtime = 12345;
  link.xattrs = {{"user.evil", "1"}};
  TarBuilder::Spec rel = link;
  rel.name = "r";
  rel.symlink = "../outside/sentinel";
  TarBuilder::Spec dirlink = link;
  dirlink.name = "dl";
  dirlink.symlink = outside_;
  auto r = Extract(TarBuilder().Add(link).Add(rel).Add(dirlink).Finish());
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/h").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_uid, 4242u) << "lchown applies to the link itself";
  EXPECT_EQ(st.st_mtim.tv_sec, 12345);
  char v[8];
  EXPECT_EQ(::getxattr((outside_ + "/sentinel").c_str(), "user.evil", v, sizeof v), -1);
}

TEST_F(HostileLayer, OverlayXattrsFromTheLayerAreDropped) {
  TarBuilder::Spec f;
  f.name = "f";
  f.data = "x";
  f.xattrs = {{"trusted.overlay.redirect", "/etc"}, {"user.ok", "1"}};
  ASSERT_TRUE(Extract(TarBuilder().Add(f).Finish()));
  char v[16];
  EXPECT_EQ(::getxattr((root_ + "/f").c_str(), "trusted.overlay.redirect", v, sizeof v), -1);
  EXPECT_EQ(::getxattr((root_ + "/f").c_str(), "user.ok", v, sizeof v), 1);
}

TEST_F(HostileLayer, RootEntryThatIsNotADirectory) {
  EXPECT_FALSE(Extract(TarBuilder().File("./", "x").Finish()));
  ExpectError(Extract(TarBuilder().Symlink(".", "/etc").Finish()), "names the layer root");
}

}  // namespace
}  // namespace moor::image
