// ReleaseStore content: packs, large blobs in parts, trees and their closure.
#include "deploy/store/release_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "deploy/store/store_test_util.h"

namespace moor::deploy {
namespace {

using testing::TempDir;
using testing::TreeMaker;

class ReleaseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    auto s = ReleaseStore::Open(tmp_.path() + "/deploy");
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }
  std::string BlobPath(const image::Digest& d) { return tmp_.path() + "/deploy/content/blobs/sha256/" + d.hex(); }
  std::string IngestData(const image::Digest& d) { return tmp_.path() + "/deploy/content/ingest/" + d.hex() + "/data"; }

  TempDir tmp_;
  std::unique_ptr<ReleaseStore> store_;
};

TEST_F(ReleaseStoreTest, OpenMakesTheLayout) {
  for (const char* sub : {"/content/blobs/sha256", "/content/ingest", "/content/exec", "/releases"}) {
    struct stat st;
    ASSERT_EQ(::stat((tmp_.path() + "/deploy" + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << sub;
  }
  EXPECT_EQ(store_->root(), tmp_.path() + "/deploy");
  auto again = ReleaseStore::Open(tmp_.path() + "/deploy/");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ((*again)->root(), tmp_.path() + "/deploy");
}

TEST_F(ReleaseStoreTest, OpenRefusesReleasesOnAnotherFilesystem) {
  struct stat shm, here;
  if (::stat("/dev/shm", &shm) != 0 || ::stat(tmp_.path().c_str(), &here) != 0 || shm.st_dev == here.st_dev) {
    GTEST_SKIP() << "needs /dev/shm on another filesystem than /tmp";
  }
  char tmpl[] = "/dev/shm/moor-deploy-store-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string other = tmpl;
  ASSERT_TRUE(MkdirAll(tmp_.path() + "/split"));
  ASSERT_EQ(::symlink(other.c_str(), (tmp_.path() + "/split/releases").c_str()), 0);
  auto s = ReleaseStore::Open(tmp_.path() + "/split");
  (void)RemoveAll(other);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("different filesystems"), std::string::npos) << s.error().message();
}

TEST_F(ReleaseStoreTest, PackStoresVerifiedBlobsOnce) {
  std::string pack;
  std::vector<std::string> data = {"<?php echo 1;", "", std::string(100000, 'x')};
  for (auto& d : data) AppendPackEntry(&pack, image::Sha256Of(d), d);
  auto r = store_->PutBlobPack(pack);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->stored.size(), 3u);
  EXPECT_EQ(r->files, 3);
  EXPECT_EQ(r->bytes, 13 + 100000);
  for (size_t i = 0; i < data.size(); ++i) {
    EXPECT_EQ(r->stored[i], image::Sha256Of(data[i]));
    EXPECT_TRUE(store_->Has(r->stored[i]));
    EXPECT_EQ(ReadFile(BlobPath(r->stored[i])), data[i]);
    struct stat st;
    ASSERT_EQ(::stat(BlobPath(r->stored[i]).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0444u);
  }
  auto again = store_->PutBlobPack(pack);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->stored.size(), 3u);
  EXPECT_EQ(again->files, 0);
  EXPECT_EQ(again->bytes, 0);
  EXPECT_TRUE(store_->PutBlobPack(""));  // an empty pack stores nothing
  EXPECT_TRUE(store_->Sync(r->stored));
}

TEST_F(ReleaseStoreTest, BadBlobInPackKeepsTheOnesBeforeIt) {
  std::string pack;
  AppendPackEntry(&pack, image::Sha256Of("good 1"), "good 1");
  AppendPackEntry(&pack, image::Sha256Of("good 2"), "good 2");
  image::Digest claimed = image::Sha256Of("what the client hashed");
  AppendPackEntry(&pack, claimed, "what arrived");
  AppendPackEntry(&pack, image::Sha256Of("good 3"), "good 3");
  auto r = store_->PutBlobPack(pack);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "blob " + claimed.str() + ": content has digest " +
                                     image::Sha256Of("what arrived").str() +
                                     " (corrupt upload); nothing was switched, run moor deploy again");
  EXPECT_TRUE(store_->Has(image::Sha256Of("good 1")));
  EXPECT_TRUE(store_->Has(image::Sha256Of("good 2")));
  EXPECT_FALSE(store_->Has(claimed));
  EXPECT_FALSE(store_->Has(image::Sha256Of("what arrived")));
  EXPECT_FALSE(store_->Has(image::Sha256Of("good 3")));
}

TEST_F(ReleaseStoreTest, TruncatedPackIsRefused) {
  std::string pack;
  AppendPackEntry(&pack, image::Sha256Of("first"), "first");
  const size_t second_at = pack.size();
  std::string body(100, 'b');
  AppendPackEntry(&pack, image::Sha256Of(body), body);
  pack.resize(pack.size() - 10);
  auto r = store_->PutBlobPack(pack);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("at byte " + std::to_string(second_at)), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("only 90 follow (truncated upload)"), std::string::npos) << r.error().message();
  EXPECT_TRUE(store_->Has(image::Sha256Of("first")));
  EXPECT_FALSE(store_->Has(image::Sha256Of(body)));
}

TEST_F(ReleaseStoreTest, BadPackHeadersNameTheirOffset) {
  const std::string hex = image::Sha256Of("x").hex();
  std::string upper = hex;
  upper[3] = 'A';
  std::string good;
  AppendPackEntry(&good, image::Sha256Of("ok"), "ok");
  const size_t at = good.size();
  struct Case {
    std::string header;
    size_t bad_byte;  // offset within the header
  };
  std::vector<Case> cases = {
      {upper + " 1\nx", 3},                   // upper-case hex
      {hex + "  1\nx", 65},                   // two spaces
      {hex + " 01\nx", 66},                   // leading zero
      {hex + " +1\nx", 65},                   // sign
      {hex + " 1 \nx", 66},                   // space before the newline
      {hex + " 1\rx", 66},                    // no newline
      {hex.substr(0, 60) + " 1\n", 0},        // too short for a header
      {hex + ":1\nx", 64},                    // wrong separator
      {hex + " 1234567890123456789\nx", 83},  // too many digits
  };
  for (const auto& c : cases) {
    auto r = store_->PutBlobPack(good + c.header);
    ASSERT_FALSE(r) << c.header;
    EXPECT_NE(r.error().message().find("bad entry header at byte " + std::to_string(at + c.bad_byte)),
              std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("run moor deploy again"), std::string::npos);
  }
  EXPECT_TRUE(store_->Has(image::Sha256Of("ok")));
  EXPECT_FALSE(store_->Has(image::Sha256Of("x")));
}

TEST_F(ReleaseStoreTest, LargeBlobResumesAtItsOffset) {
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 5);
  const image::Digest d = image::Sha256Of(data);
  const int64_t total = static_cast<int64_t>(data.size());
  const int64_t piece = 1 << 20;
  int64_t cur = -1;
  auto r = store_->PutBlobPart(d, 0, total, std::string_view(data).substr(0, piece), &cur);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, piece);
  EXPECT_EQ(cur, piece);

  // have? lists it as missing with its resumable offset.
  std::vector<image::Digest> ask = {d, image::Sha256Of("absent")};
  HaveAnswer have = store_->Have(ask);
  EXPECT_EQ(have.missing, ask);
  ASSERT_EQ(have.partial.count(d), 1u);
  EXPECT_EQ(have.partial[d], piece);
  EXPECT_EQ(have.partial.count(image::Sha256Of("absent")), 0u);

  // A wrong offset (the client thought it had sent more, or less) names where to resume.
  for (int64_t wrong : {int64_t{0}, 2 * piece}) {
    cur = -1;
    auto w = store_->PutBlobPart(d, wrong, total, std::string_view(data).substr(wrong, piece), &cur);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().errnum(), ESPIPE);
    EXPECT_EQ(cur, piece);
    EXPECT_NE(w.error().message().find("resume at " + std::to_string(piece)), std::string::npos) << w.error().message();
  }

  // A new store instance (a daemon restart) resumes from the data on disk.
  store_.reset();
  auto reopened = ReleaseStore::Open(tmp_.path() + "/deploy");
  ASSERT_TRUE(reopened);
  store_ = std::move(*reopened);
  r = store_->PutBlobPart(d, piece, total, std::string_view(data).substr(piece, piece), &cur);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(store_->Has(d));
  r = store_->PutBlobPart(d, 2 * piece, total, std::string_view(data).substr(2 * piece), &cur);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, total);
  EXPECT_TRUE(store_->Has(d));
  EXPECT_FALSE(PathExists(IngestData(d)));
  EXPECT_TRUE(store_->Have(ask).partial.empty());
  // Sending a part of a blob that is complete answers its size.
  r = store_->PutBlobPart(d, 0, total, std::string_view(data).substr(0, piece), &cur);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, total);
}

TEST_F(ReleaseStoreTest, LargeBlobWithWrongBytesIsDropped) {
  const std::string want = std::string(1000, 'w');
  const image::Digest d = image::Sha256Of(want);
  int64_t cur = -1;
  ASSERT_TRUE(store_->PutBlobPart(d, 0, 1000, std::string(500, 'w'), &cur));
  auto r = store_->PutBlobPart(d, 500, 1000, std::string(500, 'X'), &cur);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("content has digest"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("run moor deploy again"), std::string::npos) << r.error().message();
  EXPECT_EQ(cur, 0);
  EXPECT_FALSE(store_->Has(d));
  EXPECT_TRUE(store_->Have(std::vector<image::Digest>{d}).partial.empty());
  // More than the total, or a negative offset, is refused before anything is written.
  EXPECT_FALSE(store_->PutBlobPart(d, 0, 10, std::string(11, 'w'), &cur));
  EXPECT_FALSE(store_->PutBlobPart(d, -1, 10, "w", &cur));
  // It starts over.
  ASSERT_TRUE(store_->PutBlobPart(d, 0, 1000, want, &cur));
  EXPECT_TRUE(store_->Has(d));
}

TEST_F(ReleaseStoreTest, TreeWithMissingChildrenIsRefused) {
  TreeMaker m;
  auto a = m.File("a.php", "<?php a");
  auto b = m.File("b.php", "<?php b");
  auto link = m.Link("c", "a.php");
  image::Digest root = m.Root({a, b, link});
  // Only a.php arrives.
  std::string one;
  AppendPackEntry(&one, a.digest, "<?php a");
  ASSERT_TRUE(store_->PutBlobPack(one));
  std::vector<image::Digest> missing = {image::Sha256Of("stale entry")};
  auto r = store_->PutTreePack(m.tree_pack(), &missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
  EXPECT_NE(r.error().message().find("tree " + root.str() + ": missing blob " + b.digest.str()), std::string::npos)
      << r.error().message();
  EXPECT_EQ(missing, (std::vector<image::Digest>{b.digest, link.digest}));
  EXPECT_FALSE(store_->Has(root));
  EXPECT_EQ(store_->MissingTrees(std::vector<image::Digest>{root}), std::vector<image::Digest>{root});

  ASSERT_TRUE(store_->PutBlobPack(m.blob_pack()));
  auto ok = store_->PutTreePack(m.tree_pack(), &missing);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_TRUE(missing.empty());
  EXPECT_EQ(ok->files, 1);
  EXPECT_TRUE(store_->Has(root));
  EXPECT_TRUE(store_->MissingTrees(std::vector<image::Digest>{root}).empty());
  auto bytes = store_->ReadTree(root);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(TreeDigest(*bytes), root);
}

TEST_F(ReleaseStoreTest, SubtreesMustArriveBeforeTheirParents) {
  TreeMaker m;
  auto sub = m.Dir("src", {m.File("x.php", "x")});
  image::Digest root = m.Root({sub, m.File("index.php", "i")});
  ASSERT_TRUE(store_->PutBlobPack(m.blob_pack()));
  // Root alone: its subtree is missing.
  std::string root_only;
  auto root_bytes = EncodeTree(Tree{{sub, m.File("index.php", "i")}});
  ASSERT_TRUE(root_bytes);
  AppendPackEntry(&root_only, root, *root_bytes);
  std::vector<image::Digest> missing;
  ASSERT_FALSE(store_->PutTreePack(root_only, &missing));
  EXPECT_EQ(missing, std::vector<image::Digest>{sub.digest});
  // Children first, in one pack: fine.
  ASSERT_TRUE(store_->PutTreePack(m.tree_pack()));
  EXPECT_TRUE(store_->Has(root));
  EXPECT_TRUE(store_->Has(sub.digest));
}

TEST_F(ReleaseStoreTest, TreePackRefusesBadTrees) {
  ASSERT_TRUE(store_->PutBlobPack([] {
    std::string p;
    AppendPackEntry(&p, image::Sha256Of("12345"), "12345");
    return p;
  }()));
  // Not a tree at all (with the right digest).
  std::string junk;
  AppendPackEntry(&junk, image::Sha256Of("not a tree\n"), "not a tree\n");
  auto r = store_->PutTreePack(junk);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("tree " + image::Sha256Of("not a tree\n").str()), std::string::npos);
  EXPECT_FALSE(store_->Has(image::Sha256Of("not a tree\n")));
  // A size that is not the blob's.
  auto bytes = EncodeTree(Tree{{TreeEntry{EntryKind::kFile, image::Sha256Of("12345"), 4, "f"}}});
  ASSERT_TRUE(bytes);
  std::string lying;
  AppendPackEntry(&lying, TreeDigest(*bytes), *bytes);
  r = store_->PutTreePack(lying);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("says 4 bytes"), std::string::npos) << r.error().message();
  EXPECT_FALSE(store_->Has(TreeDigest(*bytes)));
  // Wrong digest.
  std::string corrupt;
  AppendPackEntry(&corrupt, image::Sha256Of("other"), *bytes);
  r = store_->PutTreePack(corrupt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("(corrupt upload)"), std::string::npos);
}

TEST_F(ReleaseStoreTest, ReadTreeReportsAbsentAndCorruptTrees) {
  auto r = store_->ReadTree(image::Sha256Of("none"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
  TreeMaker m;
  image::Digest root = m.Root({m.File("a", "a")});
  ASSERT_TRUE(store_->PutBlobPack(m.blob_pack()));
  ASSERT_TRUE(store_->PutTreePack(m.tree_pack()));
  ASSERT_EQ(::chmod(BlobPath(root).c_str(), 0644), 0);
  ASSERT_TRUE(WriteExisting(BlobPath(root), "moor-tree 1\n"));
  r = store_->ReadTree(root);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("corrupt on disk"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace moor::deploy
