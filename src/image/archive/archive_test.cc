// Layer writer ↔ extractor round trips, digests checked against the gzip and
// zstd command-line tools, whiteout conversion in both directions, and the
// decompression reader's handling of odd streams.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>

#include "image/archive/archive_test_util.h"
#include "image/archive/decompress.h"
#include "image/archive/entry_path.h"
#include "image/archive/layer_writer.h"

namespace moor::image {
namespace {

using testing::BytesFd;
using testing::Compress;
using testing::ExtractBytes;
using testing::OpenDir;
using testing::ReadAllFd;
using testing::Snapshot;
using testing::TarBuilder;
using testing::TempDir;

void SetTime(const std::string& path, int64_t sec) {
  struct timespec ts[2] = {{static_cast<time_t>(sec), 0}, {static_cast<time_t>(sec), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A tree with every kind of entry and metadata a layer can carry.
void MakeTree(const std::string& root) {
  ASSERT_EQ(::mkdir((root + "/d").c_str(), 0750), 0);
  ASSERT_EQ(::chown((root + "/d").c_str(), 1000, 1001), 0);
  ASSERT_TRUE(WriteFileAtomic(root + "/d/f", "hello file\n"));
  ASSERT_EQ(::chown((root + "/d/f").c_str(), 1234, 1235), 0);
  ASSERT_EQ(::chmod((root + "/d/f").c_str(), 04755), 0);
  ASSERT_EQ(::setxattr((root + "/d/f").c_str(), "user.foo", "bar", 3, 0), 0);
  ASSERT_EQ(::link((root + "/d/f").c_str(), (root + "/d/hl").c_str()), 0);
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  ASSERT_TRUE(WriteFileAtomic(root + "/big", big));
  ASSERT_EQ(::symlink("../big", (root + "/d/link").c_str()), 0);
  ASSERT_EQ(::lchown((root + "/d/link").c_str(), 7, 8), 0);
  ASSERT_EQ(::symlink("/nonexistent/abs", (root + "/dangling").c_str()), 0);
  ASSERT_EQ(::mkdir((root + "/dev").c_str(), 0755), 0);
  ASSERT_EQ(::mknod((root + "/dev/null1").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mknod((root + "/dev/blk").c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
  ASSERT_EQ(::mkfifo((root + "/fifo").c_str(), 0640), 0);
  ASSERT_EQ(::mkdir((root + "/empty").c_str(), 0700), 0);
  ASSERT_EQ(::setxattr((root + "/empty").c_str(), "user.dir", "x", 1, 0), 0);
  ASSERT_TRUE(WriteFileAtomic(root + "/empty-file", ""));
  ASSERT_EQ(::chmod((root + "/empty-file").c_str(), 0400), 0);
  int64_t t = 1'500'000'000;
  for (const char* p : {"d/f", "big", "d/link", "dangling", "dev/null1", "dev/blk", "fifo", "empty-file"})
    SetTime(root + "/" + p, t++);
  for (const char* p : {"d", "dev", "empty"}) SetTime(root + "/" + p, t++);
}

class RoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(RoundTrip, TreeSurvivesWriteAndExtract) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "src").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tmp / "dst").c_str(), 0755), 0);
  MakeTree(tmp / "src");
  UniqueFd src = OpenDir(tmp / "src");
  UniqueFd blob(::memfd_create("blob", MFD_CLOEXEC));
  LayerWriteOptions wo;
  wo.compression = GetParam();
  auto written = WriteLayer(src.get(), blob.get(), wo);
  ASSERT_TRUE(written) << written.error().message();
  ::lseek(blob.get(), 0, SEEK_SET);
  UniqueFd dst = OpenDir(tmp / "dst");
  auto got = ExtractLayer(blob.get(), dst.get(), {});
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->compression, GetParam());
  EXPECT_EQ(got->blob_digest, written->digest);
  EXPECT_EQ(got->diff_id, written->diff_id);
  EXPECT_EQ(static_cast<int64_t>(got->compressed_bytes), written->size);
  EXPECT_EQ(Snapshot(tmp / "src"), Snapshot(tmp / "dst"));
  struct stat a, b;
  ASSERT_EQ(::stat((tmp / "dst/d/f").c_str(), &a), 0);
  ASSERT_EQ(::stat((tmp / "dst/d/hl").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "hardlink must be restored as a link";
  EXPECT_EQ(a.st_mode & 07777, 04755u) << "setuid survives the chown";
}

TEST_P(RoundTrip, WithoutBlobHashingTheDiffIdIsStillComputed) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "src").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tmp / "dst").c_str(), 0755), 0);
  MakeTree(tmp / "src");
  UniqueFd src = OpenDir(tmp / "src");
  UniqueFd blob(::memfd_create("blob", MFD_CLOEXEC));
  LayerWriteOptions wo;
  wo.compression = GetParam();
  auto written = WriteLayer(src.get(), blob.get(), wo);
  ASSERT_TRUE(written) << written.error().message();
  ::lseek(blob.get(), 0, SEEK_SET);
  UniqueFd dst = OpenDir(tmp / "dst");
  ExtractOptions xo;
  xo.hash_blob = false;
  auto got = ExtractLayer(blob.get(), dst.get(), xo);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->blob_digest.empty());
  EXPECT_EQ(got->diff_id, written->diff_id);
  EXPECT_EQ(Snapshot(tmp / "src"), Snapshot(tmp / "dst"));
}

INSTANTIATE_TEST_SUITE_P(Compressions, RoundTrip,
                         ::testing::Values(Compression::kNone, Compression::kGzip, Compression::kZstd));

// The digests come from our own hashing; the gzip/zstd tools give independent values.
class Digests : public ::testing::TestWithParam<Compression> {};

TEST_P(Digests, MatchIndependentTools) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "src").c_str(), 0755), 0);
  MakeTree(tmp / "src");
  UniqueFd src = OpenDir(tmp / "src");
  std::string blob_path = tmp / "layer.blob";
  UniqueFd out(::open(blob_path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644));
  LayerWriteOptions wo;
  wo.compression = GetParam();
  wo.level = 3;
  auto blob = WriteLayer(src.get(), out.get(), wo);
  ASSERT_TRUE(blob) << blob.error().message();
  out.Reset();
  EXPECT_EQ(*Sha256OfFile(blob_path), blob->digest);
  struct stat st;
  ASSERT_EQ(::stat(blob_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, blob->size);
  std::string tar_path = tmp / "layer.tar";
  std::string cmd;
  if (GetParam() == Compression::kGzip) cmd = "gzip -dc < " + blob_path + " > " + tar_path;
  if (GetParam() == Compression::kZstd) cmd = "zstd -q -dc < " + blob_path + " > " + tar_path;
  if (GetParam() == Compression::kNone) cmd = "cp " + blob_path + " " + tar_path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(*Sha256OfFile(tar_path), blob->diff_id);
  if (GetParam() == Compression::kNone) {
    EXPECT_EQ(blob->digest, blob->diff_id);
  }
  // GNU tar reads what we wrote and sees the same names.
  std::string list = tmp / "list";
  ASSERT_EQ(std::system(("tar -tf " + tar_path + " > " + list).c_str()), 0);
  auto names = ReadFile(list);
  ASSERT_TRUE(names);
  EXPECT_NE(names->find("d/hl"), std::string::npos);
  EXPECT_NE(names->find("dev/blk"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Compressions, Digests,
                         ::testing::Values(Compression::kNone, Compression::kGzip, Compression::kZstd));

TEST(LayerWriter, IsReproducibleAndClampsMtimes) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "src").c_str(), 0755), 0);
  MakeTree(tmp / "src");
  ASSERT_TRUE(WriteFileAtomic(tmp / "src/new", "x"));
  SetTime(tmp / "src/new", 2'000'000'000);
  UniqueFd src = OpenDir(tmp / "src");
  LayerWriteOptions wo;
  wo.clamp_mtime = 1'700'000'000;
  wo.exclude = {"/empty/", "d/hl"};
  UniqueFd one(::memfd_create("one", MFD_CLOEXEC)), two(::memfd_create("two", MFD_CLOEXEC));
  auto a = WriteLayer(src.get(), one.get(), wo);
  auto b = WriteLayer(src.get(), two.get(), wo);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->digest, b->digest);
  EXPECT_EQ(ReadAllFd(one.get()), ReadAllFd(two.get()));
  ::lseek(one.get(), 0, SEEK_SET);
  ASSERT_EQ(::mkdir((tmp / "dst").c_str(), 0755), 0);
  UniqueFd dst = OpenDir(tmp / "dst");
  ASSERT_TRUE(ExtractLayer(one.get(), dst.get(), {}));
  struct stat st;
  ASSERT_EQ(::stat((tmp / "dst/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
  ASSERT_EQ(::stat((tmp / "dst/d/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000) << "older mtimes are kept";
  EXPECT_FALSE(PathExists(tmp / "dst/empty"));
  EXPECT_FALSE(PathExists(tmp / "dst/d/hl"));
  EXPECT_TRUE(PathExists(tmp / "dst/d/f"));
}

std::set<std::string> TarNames(const std::string& tar) {
  std::set<std::string> names;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string n = archive_entry_pathname(e);
    archive_entry_xattr_reset(e);
    const char* xn;
    const void* xv;
    size_t xs;
    while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK) n += std::string(" xattr:") + xn;
    names.insert(n);
  }
  archive_read_free(a);
  return names;
}

TEST(Whiteouts, OverlayUpperDirRoundTrips) {
  TempDir tmp;
  std::string up = tmp / "upper";
  ASSERT_EQ(::mkdir(up.c_str(), 0755), 0);
  ASSERT_EQ(::mknod((up + "/gone").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::mkdir((up + "/opq").c_str(), 0755), 0);
  ASSERT_EQ(::setxattr((up + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_TRUE(WriteFileAtomic(up + "/opq/keep", "k"));
  UniqueFd src = OpenDir(up);
  UniqueFd blob(::memfd_create("blob", MFD_CLOEXEC));
  LayerWriteOptions wo;
  wo.compression = Compression::kNone;
  ASSERT_TRUE(WriteLayer(src.get(), blob.get(), wo));
  std::string tar = ReadAllFd(blob.get());
  EXPECT_EQ(TarNames(tar), (std::set<std::string>{".wh.gone", "opq/", "opq/.wh..wh..opq", "opq/keep"}));

  // Overlay mode: the whiteouts come back as overlayfs reads them.
  ASSERT_EQ(::mkdir((tmp / "ov").c_str(), 0755), 0);
  ASSERT_TRUE(ExtractBytes(tar, tmp / "ov"));
  struct stat st;
  ASSERT_EQ(::lstat((tmp / "ov/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  char v[4] = {};
  EXPECT_EQ(::getxattr((tmp / "ov/opq").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_TRUE(PathExists(tmp / "ov/opq/keep"));
  EXPECT_FALSE(PathExists(tmp / "ov/.wh.gone"));

  // Flatten mode over a lower tree: whiteouts delete, this layer's files stay.
  std::string flat = tmp / "flat";
  ASSERT_EQ(::mkdir(flat.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(flat + "/gone", "lower"));
  ASSERT_EQ(::mkdir((flat + "/opq").c_str(), 0755), 0);
  ASSERT_TRUE(MkdirAll(flat + "/opq/olddir/sub"));
  ASSERT_TRUE(WriteFileAtomic(flat + "/opq/old", "lower"));
  ExtractOptions fo;
  fo.whiteouts = WhiteoutMode::kFlatten;
  ASSERT_TRUE(ExtractBytes(tar, flat, fo));
  EXPECT_FALSE(PathExists(flat + "/gone"));
  EXPECT_FALSE(PathExists(flat + "/opq/old"));
  EXPECT_FALSE(PathExists(flat + "/opq/olddir"));
  EXPECT_TRUE(PathExists(flat + "/opq/keep"));
  EXPECT_EQ(::getxattr((flat + "/opq").c_str(), "trusted.overlay.opaque", v, sizeof v), -1);
}

TEST(Whiteouts, FlattenKeepsEntriesOfTheSameLayerWrittenBeforeTheOpaqueMarker) {
  TempDir tmp;
  ASSERT_TRUE(MkdirAll(tmp / "root/a"));
  ASSERT_TRUE(WriteFileAtomic(tmp / "root/a/lower", "x"));
  std::string tar =
      TarBuilder().File("a/b/new", "n").File("a/.wh..wh..opq", "").File("a/.wh.new2", "").Finish();
  ExtractOptions fo;
  fo.whiteouts = WhiteoutMode::kFlatten;
  auto r = ExtractBytes(tar, tmp / "root", fo);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(PathExists(tmp / "root/a/b/new"));
  EXPECT_FALSE(PathExists(tmp / "root/a/lower"));
}

TEST(Extract, ReportsProgressAndCounts) {
  std::string tar = TarBuilder().Dir("a").File("a/x", std::string(3000, 'x')).Symlink("s", "a/x").Finish();
  std::string gz = Compress(tar, Compression::kGzip);
  TempDir tmp;
  std::vector<uint64_t> seen;
  ExtractOptions o;
  o.progress = [&](uint64_t n) { seen.push_back(n); };
  auto r = ExtractBytes(gz, tmp.path(), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->entries, 3u);
  EXPECT_EQ(r->compressed_bytes, gz.size());
  EXPECT_EQ(r->uncompressed_bytes, tar.size());
  EXPECT_EQ(r->blob_digest, Sha256Of(gz));
  EXPECT_EQ(r->diff_id, Sha256Of(tar));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), gz.size());
}

TEST(Extract, NonAsciiAndNonUtf8NamesRoundTrip) {
  TempDir tmp;
  std::string src = tmp / "src";
  ASSERT_TRUE(MkdirAll(src + "/caf\xc3\xa9"));
  ASSERT_TRUE(WriteFileAtomic(src + "/caf\xc3\xa9/\xff\xfe-raw", "bytes"));
  ASSERT_TRUE(WriteFileAtomic(src + "/" + std::string(150, 'n') + "-long-name", "long"));
  UniqueFd dir = OpenDir(src);
  UniqueFd blob(::memfd_create("blob", MFD_CLOEXEC));
  auto w = WriteLayer(dir.get(), blob.get(), {});
  ASSERT_TRUE(w) << w.error().message();
  ::lseek(blob.get(), 0, SEEK_SET);
  ASSERT_TRUE(MkdirAll(tmp / "dst"));
  UniqueFd dst = OpenDir(tmp / "dst");
  auto r = ExtractLayer(blob.get(), dst.get(), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*ReadFile(tmp / "dst/caf\xc3\xa9/\xff\xfe-raw"), "bytes");
  EXPECT_EQ(*ReadFile(tmp / ("dst/" + std::string(150, 'n') + "-long-name")), "long");
}

TEST(Extract, ImplicitParentsAre0755WhateverTheUmask) {
  TempDir tmp;
  mode_t old = ::umask(077);
  auto r = ExtractBytes(TarBuilder().File("a/b/c", "x").Finish(), tmp.path());
  ::umask(old);
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::stat((tmp / "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST(Extract, EmptyInputIsAnEmptyLayer) {
  TempDir tmp;
  auto r = ExtractBytes("", tmp.path());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->entries, 0u);
  EXPECT_EQ(r->blob_digest, Sha256Of(""));
}

TEST(Recompress, ChangesCompressionAndKeepsDiffId) {
  std::string tar = TarBuilder().File("a", "aaaa").Finish();
  std::string gz = Compress(tar, Compression::kGzip);
  UniqueFd in = BytesFd(gz);
  UniqueFd out(::memfd_create("out", MFD_CLOEXEC));
  auto r = Recompress(in.get(), out.get(), Compression::kZstd, 3);
  ASSERT_TRUE(r) << r.error().message();
  std::string zst = ReadAllFd(out.get());
  EXPECT_EQ(r->digest, Sha256Of(zst));
  EXPECT_EQ(r->diff_id, Sha256Of(tar));
  EXPECT_EQ(r->size, static_cast<int64_t>(zst.size()));
  unsigned char head[4];
  std::memcpy(head, zst.data(), 4);
  EXPECT_EQ(DetectCompression(head, 4), Compression::kZstd);

  // Same compression: copied byte for byte.
  UniqueFd in2 = BytesFd(gz);
  UniqueFd out2(::memfd_create("out2", MFD_CLOEXEC));
  auto same = Recompress(in2.get(), out2.get(), Compression::kGzip);
  ASSERT_TRUE(same);
  EXPECT_EQ(ReadAllFd(out2.get()), gz);
  EXPECT_EQ(same->digest, Sha256Of(gz));
  EXPECT_EQ(same->diff_id, Sha256Of(tar));
}

TEST(DetectCompression, ByMagic) {
  const unsigned char gz[] = {0x1f, 0x8b, 8, 0};
  const unsigned char zs[] = {0x28, 0xb5, 0x2f, 0xfd};
  const unsigned char tar[] = {'a', 0, 0, 0};
  EXPECT_EQ(DetectCompression(gz, 4), Compression::kGzip);
  EXPECT_EQ(DetectCompression(zs, 4), Compression::kZstd);
  EXPECT_EQ(DetectCompression(zs, 3), Compression::kNone);
  EXPECT_EQ(DetectCompression(tar, 4), Compression::kNone);
  EXPECT_EQ(DetectCompression(gz, 0), Compression::kNone);
}

TEST(CleanEntryPath, NormalisesAndRejectsEscapes) {
  EXPECT_EQ(*CleanEntryPath("./a//b/"), "a/b");
  EXPECT_EQ(*CleanEntryPath("/etc/x"), "etc/x");
  EXPECT_EQ(*CleanEntryPath("a/./b/../c"), "a/c");
  EXPECT_EQ(*CleanEntryPath("./"), "");
  EXPECT_EQ(*CleanEntryPath("/"), "");
  EXPECT_FALSE(CleanEntryPath("../x"));
  EXPECT_FALSE(CleanEntryPath("a/../../x"));
  EXPECT_FALSE(CleanEntryPath("/.."));
  EXPECT_FALSE(CleanEntryPath(std::string("a\0b", 3)));
}

std::string ReadAll(DecompressReader& r, Result<void>* err = nullptr) {
  std::string out;
  char buf[1000];
  for (;;) {
    auto n = r.Read(buf, sizeof buf);
    if (!n) {
      if (err) *err = std::unexpected(n.error());
      return out;
    }
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

TEST(DecompressReader, ConcatenatedGzipMembers) {
  std::string a(5000, 'a'), b = "bbbb";
  std::string blob = Compress(a, Compression::kGzip) + Compress(b, Compression::kGzip);
  UniqueFd fd = BytesFd(blob);
  DecompressReader r(fd.get());
  Result<void> err;
  EXPECT_EQ(ReadAll(r, &err), a + b);
  EXPECT_TRUE(err);
  EXPECT_EQ(r.diff_id(), Sha256Of(a + b));
  EXPECT_EQ(r.blob_digest(), Sha256Of(blob));
}

TEST(DecompressReader, ConcatenatedZstdFrames) {
  std::string blob = Compress("one", Compression::kZstd) + Compress("two", Compression::kZstd);
  UniqueFd fd = BytesFd(blob);
  DecompressReader r(fd.get());
  EXPECT_EQ(ReadAll(r), "onetwo");
}

TEST(DecompressReader, RejectsTruncatedAndTrailingGarbage) {
  std::string data(100000, 'q');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>(i);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string blob = Compress(data, c);
    UniqueFd fd = BytesFd(blob.substr(0, blob.size() / 2));
    DecompressReader r(fd.get());
    Result<void> err;
    ReadAll(r, &err);
    ASSERT_FALSE(err);
    EXPECT_NE(err.error().message().find("truncated"), std::string::npos) << err.error().message();
  }
  UniqueFd fd = BytesFd(Compress(data, Compression::kGzip) + "garbage");
  DecompressReader r(fd.get());
  Result<void> err;
  ReadAll(r, &err);
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message().find("after the end"), std::string::npos) << err.error().message();
}

TEST(DecompressReader, EnforcesRatio) {
  std::string zeros(1 << 20, '\0');
  UniqueFd fd = BytesFd(Compress(zeros, Compression::kGzip, 9));
  DecompressReader r(fd.get(), /*max_ratio=*/10, /*ratio_floor=*/4096);
  Result<void> err;
  ReadAll(r, &err);
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message().find("max_ratio"), std::string::npos);
}

}  // namespace
}  // namespace moor::image
