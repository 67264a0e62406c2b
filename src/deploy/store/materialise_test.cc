// ReleaseStore releases: Materialise, CheckMaterialised, the `current` flip,
// removal, cleanup and garbage collection.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/file.h"
#include "deploy/store/release_store.h"
#include "deploy/store/store_test_util.h"
#include "image/store/content_store.h"

namespace moor::deploy {
namespace {

using testing::TempDir;
using testing::TreeMaker;

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class MaterialiseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    root_ = tmp_.path() + "/deploy";
    auto s = ReleaseStore::Open(root_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }
  std::string BlobPath(const image::Digest& d) { return root_ + "/content/blobs/sha256/" + d.hex(); }
  std::string ExecPath(const image::Digest& d) { return root_ + "/content/exec/" + d.hex(); }
  std::string Svc() { return root_ + "/releases/shop/php"; }

  // Uploads everything the maker holds.
  void Upload(const TreeMaker& m) {
    auto b = store_->PutBlobPack(m.blob_pack());
    ASSERT_TRUE(b) << b.error().message();
    auto t = store_->PutTreePack(m.tree_pack());
    ASSERT_TRUE(t) << t.error().message();
  }

  // A small app: files, an exec file, a symlink, nested and shared dirs.
  image::Digest SmallApp(TreeMaker& m) {
    auto lib = m.Dir("lib", {m.File("util.php", "<?php function u() {}"), m.File("empty", "")});
    return m.Root({
        m.File("index.php", "<?php require 'lib/util.php';"),
        m.File("run.sh", "#!/bin/sh\necho hi\n", true),
        m.Link("current-lib", "lib"),
        lib,
        m.Dir("public", {m.File("app.css", "body{}"), m.Dir("vendor", {m.File("x.js", "1")}), m.Dir("empty", {})}),
        m.Dir("copy", {m.File("util.php", "<?php function u() {}")}),
    });
  }

  TempDir tmp_;
  std::string root_;
  std::unique_ptr<ReleaseStore> store_;
};

TEST_F(MaterialiseTest, ReleaseIsHardlinksOfBlobsReadOnly) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  MaterialiseStats stats;
  auto path = store_->Materialise("shop", "php", 1, root, &stats);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*path, Svc() + "/1");
  EXPECT_EQ(stats.files, 7);
  EXPECT_EQ(stats.dirs, 6);  // top, lib, public, vendor, empty, copy
  EXPECT_EQ(stats.symlinks, 1);
  EXPECT_EQ(stats.copies, 0);
  EXPECT_EQ(stats.exec_made, 1);

  // A file is the blob's inode: 0444; two names of one content share it.
  image::Digest util = image::Sha256Of("<?php function u() {}");
  struct stat blob = Lstat(BlobPath(util));
  for (const char* f : {"/lib/util.php", "/copy/util.php"}) {
    struct stat st = Lstat(*path + f);
    EXPECT_EQ(st.st_ino, blob.st_ino) << f;
    EXPECT_EQ(st.st_mode & 07777, 0444u) << f;
  }
  EXPECT_EQ(Lstat(BlobPath(util)).st_nlink, 3u);
  EXPECT_EQ(ReadFile(*path + "/index.php"), "<?php require 'lib/util.php';");
  EXPECT_EQ(Lstat(*path + "/lib/empty").st_size, 0);
  // An exec file is the exec/ copy's inode: 0555, not the blob's.
  image::Digest sh = image::Sha256Of("#!/bin/sh\necho hi\n");
  struct stat run = Lstat(*path + "/run.sh");
  EXPECT_EQ(run.st_mode & 07777, 0555u);
  EXPECT_EQ(run.st_ino, Lstat(ExecPath(sh)).st_ino);
  EXPECT_NE(run.st_ino, Lstat(BlobPath(sh)).st_ino);
  EXPECT_EQ(Lstat(BlobPath(sh)).st_mode & 07777, 0444u);
  EXPECT_EQ(ReadFile(*path + "/run.sh"), "#!/bin/sh\necho hi\n");
  // Directories 0555, the top one too.
  for (const char* d : {"", "/lib", "/public", "/public/vendor", "/public/empty", "/copy"}) {
    struct stat st = Lstat(*path + d);
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 07777, 0555u) << d;
  }
  // The symlink keeps its target text.
  char target[64] = {};
  ASSERT_EQ(::readlink((*path + "/current-lib").c_str(), target, sizeof target - 1), 3);
  EXPECT_STREQ(target, "lib");
  EXPECT_FALSE(PathExists(Svc() + "/.tmp-1"));

  EXPECT_TRUE(store_->IsMaterialised("shop", "php", 1));
  EXPECT_FALSE(store_->IsMaterialised("shop", "php", 2));
  auto ok = store_->CheckMaterialised("shop", "php", 1, root);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_TRUE(*ok);
}

TEST_F(MaterialiseTest, MaterialiseIsIdempotent) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  ASSERT_TRUE(store_->Materialise("shop", "php", 4, root));
  ino_t first = Lstat(Svc() + "/4").st_ino;
  MaterialiseStats stats;
  stats.files = 99;
  auto again = store_->Materialise("shop", "php", 4, root, &stats);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, Svc() + "/4");
  EXPECT_EQ(Lstat(Svc() + "/4").st_ino, first);
  EXPECT_EQ(stats.files, 0);
  // A second release of the same code shares every inode and the exec copy.
  ASSERT_TRUE(store_->Materialise("shop", "php", 5, root, &stats));
  EXPECT_EQ(stats.exec_made, 0);
  EXPECT_EQ(Lstat(Svc() + "/4/run.sh").st_ino, Lstat(Svc() + "/5/run.sh").st_ino);
  EXPECT_EQ(Lstat(Svc() + "/4/index.php").st_ino, Lstat(Svc() + "/5/index.php").st_ino);
}

TEST_F(MaterialiseTest, LeftoverTempIsReplaced) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  ASSERT_TRUE(MkdirAll(Svc() + "/.tmp-2/half/done"));
  ASSERT_EQ(::chmod((Svc() + "/.tmp-2/half").c_str(), 0555), 0);
  ASSERT_TRUE(store_->Materialise("shop", "php", 2, root));
  EXPECT_FALSE(PathExists(Svc() + "/2/half"));
  EXPECT_FALSE(PathExists(Svc() + "/.tmp-2"));
  EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", 2, root));
}

TEST_F(MaterialiseTest, MissingBlobFailsAndDropsTheTreesNamingIt) {
  TreeMaker m;
  auto lib = m.Dir("lib", {m.File("gone.php", "<?php gone")});
  auto other = m.Dir("other", {m.File("kept.php", "<?php kept")});
  image::Digest root = m.Root({lib, other, m.File("index.php", "i")});
  Upload(m);
  ASSERT_EQ(::unlink(BlobPath(image::Sha256Of("<?php gone")).c_str()), 0);
  auto r = store_->Materialise("shop", "php", 3, root);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
  EXPECT_NE(r.error().message().find("missing blob " + image::Sha256Of("<?php gone").str()), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("run moor deploy again"), std::string::npos);
  EXPECT_FALSE(PathExists(Svc() + "/3"));
  EXPECT_FALSE(PathExists(Svc() + "/.tmp-3"));
  // The trees on the way to it are gone (their closure broke); the rest stays.
  EXPECT_FALSE(store_->Has(root));
  EXPECT_FALSE(store_->Has(lib.digest));
  EXPECT_TRUE(store_->Has(other.digest));
  EXPECT_EQ(store_->MissingTrees(std::vector<image::Digest>{root, lib.digest, other.digest}),
            (std::vector<image::Digest>{root, lib.digest}));
  // The client uploads again; now it works.
  Upload(m);
  ASSERT_TRUE(store_->Materialise("shop", "php", 3, root));
}

TEST_F(MaterialiseTest, MissingExecAndSymlinkBlobsAreReportedToo) {
  for (bool exec : {true, false}) {
    TreeMaker m;
    std::string bytes = exec ? "#!/bin/sh\n" + std::to_string(exec) : "target-" + std::to_string(exec);
    image::Digest root = m.Root({exec ? m.File("run", bytes, true) : m.Link("ln", bytes)});
    Upload(m);
    ASSERT_EQ(::unlink(BlobPath(image::Sha256Of(bytes)).c_str()), 0);
    auto r = store_->Materialise("shop", "php", exec ? 10 : 11, root);
    ASSERT_FALSE(r) << exec;
    EXPECT_NE(r.error().message().find("missing blob " + image::Sha256Of(bytes).str()), std::string::npos)
        << r.error().message();
    EXPECT_FALSE(store_->Has(root));
  }
}

TEST_F(MaterialiseTest, LinkFailuresFallBackToCopies) {
  for (int err : {EMLINK, EXDEV}) {
    TreeMaker m;
    image::Digest root = SmallApp(m);
    Upload(m);
    store_->SetLinkFaultForTest(err);
    MaterialiseStats stats;
    const int64_t n = err == EMLINK ? 7 : 8;
    auto path = store_->Materialise("shop", "php", n, root, &stats);
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_EQ(stats.files, 7);
    EXPECT_EQ(stats.copies, 7);
    struct stat st = Lstat(*path + "/lib/util.php");
    EXPECT_NE(st.st_ino, Lstat(BlobPath(image::Sha256Of("<?php function u() {}"))).st_ino);
    EXPECT_EQ(st.st_mode & 07777, 0444u);
    EXPECT_EQ(Lstat(*path + "/run.sh").st_mode & 07777, 0555u);
    EXPECT_EQ(ReadFile(*path + "/lib/util.php"), "<?php function u() {}");
    EXPECT_EQ(ReadFile(*path + "/run.sh"), "#!/bin/sh\necho hi\n");
    EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", n, root));
  }
  // With the fault gone, links again.
  store_->SetLinkFaultForTest(0);
  TreeMaker m;
  image::Digest root = SmallApp(m);
  MaterialiseStats stats;
  ASSERT_TRUE(store_->Materialise("shop", "php", 9, root, &stats));
  EXPECT_EQ(stats.copies, 0);
}

TEST_F(MaterialiseTest, RematerialiseReplacesADamagedLiveTree) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  ASSERT_TRUE(store_->Materialise("shop", "php", 1, root));
  ASSERT_TRUE(store_->SetCurrent("shop", "php", 1));
  ino_t before = Lstat(Svc() + "/1").st_ino;
  const std::string lib = Svc() + "/1/lib";
  ASSERT_EQ(::unlink((lib + "/util.php").c_str()), 0);
  ASSERT_FALSE(*store_->CheckMaterialised("shop", "php", 1, root));
  // RemoveRelease refuses the current release; Rematerialise swaps it in place.
  EXPECT_FALSE(store_->RemoveRelease("shop", "php", 1));
  MaterialiseStats stats;
  auto path = store_->Rematerialise("shop", "php", 1, root, &stats);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(stats.files, 7);
  EXPECT_NE(Lstat(Svc() + "/1").st_ino, before);
  EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", 1, root));
  EXPECT_EQ(ReadFile(Svc() + "/current/lib/util.php"), "<?php function u() {}");
  EXPECT_EQ(store_->Current("shop", "php"), 1);
  EXPECT_FALSE(PathExists(Svc() + "/.tmp-1"));
  // Of an absent release it is a plain Materialise.
  ASSERT_TRUE(store_->Rematerialise("shop", "php", 2, root));
  EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", 2, root));
}

TEST_F(MaterialiseTest, CheckMaterialisedNoticesDamage) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  ASSERT_TRUE(store_->Materialise("shop", "php", 1, root));
  EXPECT_FALSE(*store_->CheckMaterialised("shop", "php", 2, root));  // absent
  const std::string lib = Svc() + "/1/lib";
  ASSERT_EQ(::chmod(lib.c_str(), 0755), 0);
  EXPECT_FALSE(*store_->CheckMaterialised("shop", "php", 1, root));  // mode
  ASSERT_EQ(::chmod(lib.c_str(), 0555), 0);
  EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", 1, root));
  // An extra file (root can write into 0555 dirs).
  ASSERT_TRUE(WriteFileAtomic(lib + "/extra", "x"));
  EXPECT_FALSE(*store_->CheckMaterialised("shop", "php", 1, root));
  ASSERT_EQ(::unlink((lib + "/extra").c_str()), 0);
  // A missing file (a crash before the data was on disk).
  ASSERT_EQ(::unlink((lib + "/util.php").c_str()), 0);
  EXPECT_FALSE(*store_->CheckMaterialised("shop", "php", 1, root));
  // Its tree unknown to the store: an error, not "complete".
  EXPECT_FALSE(store_->CheckMaterialised("shop", "php", 1, image::Sha256Of("no such tree")));
}

TEST_F(MaterialiseTest, BadServiceNamesAreRefused) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  for (const auto& [app, svc] :
       std::vector<std::pair<std::string, std::string>>{{"..", "php"}, {"shop", "../x"}, {"", "php"}, {"shop", "."}}) {
    EXPECT_FALSE(store_->Materialise(app, svc, 1, root)) << app << "/" << svc;
    EXPECT_FALSE(store_->EnsureServiceDir(app, svc));
    EXPECT_FALSE(store_->SetCurrent(app, svc, 1));
  }
  EXPECT_FALSE(PathExists(root_ + "/x"));
}

TEST_F(MaterialiseTest, SetCurrentFlipsAtomically) {
  TreeMaker one, two;
  image::Digest r1 = one.Root({one.File("version", "1")});
  image::Digest r2 = two.Root({two.File("version", "2")});
  Upload(one);
  Upload(two);
  ASSERT_TRUE(store_->Materialise("shop", "php", 1, r1));
  ASSERT_TRUE(store_->Materialise("shop", "php", 2, r2));
  EXPECT_EQ(store_->Current("shop", "php"), std::nullopt);
  auto refused = store_->SetCurrent("shop", "php", 3);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("not materialised"), std::string::npos) << refused.error().message();
  EXPECT_FALSE(PathExists(Svc() + "/current"));

  ASSERT_TRUE(store_->SetCurrent("shop", "php", 1));
  EXPECT_EQ(store_->Current("shop", "php"), 1);
  char target[16] = {};
  ASSERT_EQ(::readlink((Svc() + "/current").c_str(), target, sizeof target - 1), 1);
  EXPECT_STREQ(target, "1");  // relative: resolves the same inside containers

  // Readers resolve current/version throughout 200 flips: never a miss.
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0}, reads{0};
  std::thread reader([&] {
    const std::string path = Svc() + "/current/version";
    while (!stop.load()) {
      auto v = ReadFile(path);
      if (!v || (*v != "1" && *v != "2")) ++misses;
      ++reads;
    }
  });
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store_->SetCurrent("shop", "php", i % 2 ? 1 : 2));
  while (reads.load() < 100) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(store_->Current("shop", "php"), 1);
  EXPECT_FALSE(PathExists(Svc() + "/.current.tmp"));
  // A failed flip leaves current as it was.
  EXPECT_FALSE(store_->SetCurrent("shop", "php", 7));
  EXPECT_EQ(store_->Current("shop", "php"), 1);
}

TEST_F(MaterialiseTest, ListRemoveAndCleanTemp) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  EXPECT_TRUE(store_->ListMaterialised("shop", "php").empty());
  for (int64_t n : {1, 2, 10}) ASSERT_TRUE(store_->Materialise("shop", "php", n, root));
  ASSERT_TRUE(store_->SetCurrent("shop", "php", 2));
  // Not releases: a leading zero, a file, the symlink, temp dirs.
  ASSERT_TRUE(MkdirAll(Svc() + "/07"));
  ASSERT_TRUE(WriteFileAtomic(Svc() + "/8", "x"));
  ASSERT_TRUE(MkdirAll(Svc() + "/.tmp-11/a/b"));
  ASSERT_EQ(::chmod((Svc() + "/.tmp-11/a").c_str(), 0555), 0);
  ASSERT_EQ(::chmod((Svc() + "/.tmp-11").c_str(), 0555), 0);
  ASSERT_EQ(::symlink("1", (Svc() + "/.current.tmp").c_str()), 0);
  EXPECT_EQ(store_->ListMaterialised("shop", "php"), (std::vector<int64_t>{1, 2, 10}));

  auto current = store_->RemoveRelease("shop", "php", 2);
  ASSERT_FALSE(current);
  EXPECT_NE(current.error().message().find("it is current"), std::string::npos) << current.error().message();
  ASSERT_TRUE(store_->RemoveRelease("shop", "php", 1));
  EXPECT_TRUE(store_->RemoveRelease("shop", "php", 1));  // absent: fine
  EXPECT_TRUE(store_->RemoveRelease("nope", "php", 1));
  EXPECT_EQ(store_->ListMaterialised("shop", "php"), (std::vector<int64_t>{2, 10}));
  EXPECT_FALSE(PathExists(Svc() + "/1"));
  EXPECT_FALSE(PathExists(Svc() + "/.tmp-1"));
  // The blobs stay (gc decides), and the other releases are untouched.
  EXPECT_TRUE(store_->Has(image::Sha256Of("<?php function u() {}")));
  EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", 10, root));

  ASSERT_TRUE(store_->CleanTemp("shop", "php"));
  EXPECT_FALSE(PathExists(Svc() + "/.tmp-11"));
  EXPECT_FALSE(PathExists(Svc() + "/.current.tmp"));
  EXPECT_TRUE(PathExists(Svc() + "/07"));
  EXPECT_EQ(store_->Current("shop", "php"), 2);
  EXPECT_TRUE(store_->CleanTemp("nope", "php"));
}

TEST_F(MaterialiseTest, GcKeepsWhatKeptRootsReachAndRemovesTheRest) {
  TreeMaker keep, drop;
  image::Digest kept = keep.Root({keep.File("shared.php", "shared"), keep.File("k.sh", "kept exec", true),
                                  keep.Dir("d", {keep.File("only-kept", "k")})});
  image::Digest dropped = drop.Root({drop.File("shared.php", "shared"), drop.File("x.sh", "dropped exec", true),
                                     drop.Dir("d", {drop.File("only-dropped", "dd")})});
  Upload(keep);
  Upload(drop);
  ASSERT_TRUE(store_->Materialise("shop", "php", 1, kept));
  ASSERT_TRUE(store_->Materialise("shop", "php", 2, dropped));
  // Ingests: one old and abandoned, one old but held by a writer, one young.
  const image::Digest old_ingest = image::Sha256Of("old"), held = image::Sha256Of("held"),
                      young = image::Sha256Of("young");
  int64_t cur = 0;
  ASSERT_TRUE(store_->PutBlobPart(old_ingest, 0, 10, "ol", &cur));
  ASSERT_TRUE(store_->PutBlobPart(young, 0, 10, "yo", &cur));
  auto content = image::ContentStore::Open(root_ + "/content");
  ASSERT_TRUE(content);
  auto writer = content->BeginIngest(held, 10);
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Write("he", 2));
  const struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
  for (const auto& d : {old_ingest, held}) {
    ASSERT_EQ(::utimensat(AT_FDCWD, (root_ + "/content/ingest/" + d.hex() + "/data").c_str(), old_times, 0), 0);
  }

  auto stats = store_->CollectGarbage(std::vector<image::Digest>{kept}, int64_t{3600} * 1000000000);
  ASSERT_TRUE(stats) << stats.error().message();
  // dropped root, its d tree, x.sh, only-dropped.
  EXPECT_EQ(stats->blobs_removed, 4);
  EXPECT_EQ(stats->exec_removed, 1);
  EXPECT_EQ(stats->ingests_removed, 1);
  EXPECT_GT(stats->bytes_freed, 0);
  for (const auto& d : keep.blobs()) EXPECT_TRUE(store_->Has(d));
  for (const auto& d : keep.trees()) EXPECT_TRUE(store_->Has(d));
  EXPECT_FALSE(store_->Has(dropped));
  EXPECT_FALSE(store_->Has(image::Sha256Of("dropped exec")));
  EXPECT_FALSE(store_->Has(image::Sha256Of("dd")));
  EXPECT_TRUE(PathExists(ExecPath(image::Sha256Of("kept exec"))));
  EXPECT_FALSE(PathExists(ExecPath(image::Sha256Of("dropped exec"))));
  EXPECT_FALSE(PathExists(root_ + "/content/ingest/" + old_ingest.hex()));
  EXPECT_TRUE(PathExists(root_ + "/content/ingest/" + held.hex() + "/data"));
  EXPECT_TRUE(PathExists(root_ + "/content/ingest/" + young.hex() + "/data"));
  // Release 2's files are its own links: still readable after their blobs went.
  EXPECT_EQ(ReadFile(Svc() + "/2/d/only-dropped"), "dd");
  EXPECT_TRUE(*store_->CheckMaterialised("shop", "php", 1, kept));

  // Nothing kept: everything goes; an absent kept root marks nothing.
  writer->reset();
  auto all = store_->CollectGarbage(std::vector<image::Digest>{image::Sha256Of("absent root")}, 0);
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_TRUE(image::ContentStore::Open(root_ + "/content")->ListBlobs().empty());
  EXPECT_EQ(all->ingests_removed, 2);
  EXPECT_EQ(all->exec_removed, 1);
}

TEST_F(MaterialiseTest, GcStopsOnAnUnreadableKeptTree) {
  TreeMaker m;
  image::Digest root = SmallApp(m);
  Upload(m);
  std::string extra;
  AppendPackEntry(&extra, image::Sha256Of("unreferenced"), "unreferenced");
  ASSERT_TRUE(store_->PutBlobPack(extra));
  ASSERT_EQ(::chmod(BlobPath(root).c_str(), 0644), 0);
  ASSERT_TRUE(WriteExisting(BlobPath(root), "garbage"));
  auto r = store_->CollectGarbage(std::vector<image::Digest>{root}, 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nothing was removed"), std::string::npos) << r.error().message();
  EXPECT_TRUE(store_->Has(image::Sha256Of("unreferenced")));
}

}  // namespace
}  // namespace moor::deploy

namespace moor::deploy {
namespace {

// A spare copy of release 1's tree becomes release 2 by patching only what differs.
TEST_F(MaterialiseTest, SparePatchedIntoTheNextReleaseTouchesOnlyWhatChanged) {
  TreeMaker m;
  image::Digest v1 = SmallApp(m);
  auto lib2 = m.Dir("lib", {m.File("util.php", "<?php function u2() {}"), m.File("empty", "")});
  image::Digest v2 = m.Root({
      m.File("index.php", "<?php require 'lib/util.php';"),
      m.File("run.sh", "#!/bin/sh\necho hi\n"),  // exec bit dropped
      lib2,                                        // one file changed inside
      m.Dir("public", {m.File("app.css", "body{}"), m.Dir("vendor", {m.File("x.js", "1")}), m.Dir("empty", {})}),
      m.File("copy", "now a file"),                // a directory became a file
      m.Dir("new", {m.File("a.php", "new")}),      // added; current-lib removed
  });
  Upload(m);
  ASSERT_TRUE(store_->Materialise("shop", "php", 1, v1));
  ASSERT_TRUE(store_->PrepareSpare("shop", "php", v1));
  EXPECT_TRUE(std::filesystem::exists(Svc() + "/.spare-" + v1.hex()));
  MaterialiseStats stats;
  auto path = store_->Materialise("shop", "php", 2, v2, &stats);
  ASSERT_TRUE(path) << path.error().message();
  // run.sh, lib/util.php, copy, new/a.php: 4 links; not the 7 files of a whole build.
  EXPECT_EQ(stats.files, 4);
  EXPECT_FALSE(std::filesystem::exists(Svc() + "/.spare-" + v1.hex()));  // taken
  auto ok2 = store_->CheckMaterialised("shop", "php", 2, v2);
  ASSERT_TRUE(ok2) << ok2.error().message();
  EXPECT_TRUE(*ok2);
  auto ok1 = store_->CheckMaterialised("shop", "php", 1, v1);
  ASSERT_TRUE(ok1) << ok1.error().message();
  EXPECT_TRUE(*ok1) << "release 1 must be untouched";
  EXPECT_EQ(Lstat(Svc() + "/2/lib/util.php").st_ino, Lstat(BlobPath(TreeMaker::BlobDigest("<?php function u2() {}"))).st_ino);
  EXPECT_EQ(Lstat(Svc() + "/2/run.sh").st_mode & 07777, 0444u);
  EXPECT_EQ(Lstat(Svc() + "/2").st_mode & 07777, 0555u);
  EXPECT_EQ(Lstat(Svc() + "/2/lib").st_mode & 07777, 0555u);
  EXPECT_EQ(Lstat(Svc() + "/2/new").st_mode & 07777, 0555u);
  // A spare of another tree is replaced, not patched twice.
  ASSERT_TRUE(store_->PrepareSpare("shop", "php", v2));
  ASSERT_TRUE(store_->PrepareSpare("shop", "php", v1));
  EXPECT_FALSE(std::filesystem::exists(Svc() + "/.spare-" + v2.hex()));
  EXPECT_TRUE(std::filesystem::exists(Svc() + "/.spare-" + v1.hex()));
  EXPECT_EQ(store_->ListMaterialised("shop", "php"), (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace moor::deploy

namespace moor::deploy {
namespace {

TEST_F(MaterialiseTest, ATreeUnlikeTheSpareIsBuiltWholeAndTheSpareKept) {
  TreeMaker m;
  image::Digest v1 = SmallApp(m);
  std::vector<TreeEntry> many;
  for (int i = 0; i < 1200; ++i) many.push_back(m.File("f" + std::to_string(i), "content " + std::to_string(i)));
  image::Digest big = m.Root({m.Dir("all", std::move(many))});
  Upload(m);
  ASSERT_TRUE(store_->Materialise("shop", "php", 1, v1));
  ASSERT_TRUE(store_->PrepareSpare("shop", "php", v1));
  MaterialiseStats stats;
  ASSERT_TRUE(store_->Materialise("shop", "php", 2, big, &stats));
  EXPECT_EQ(stats.files, 1200);
  EXPECT_TRUE(std::filesystem::exists(Svc() + "/.spare-" + v1.hex()));
  auto ok = store_->CheckMaterialised("shop", "php", 2, big);
  ASSERT_TRUE(ok && *ok);
}

}  // namespace
}  // namespace moor::deploy
