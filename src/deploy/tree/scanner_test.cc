#include "deploy/tree/scanner.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>
#include <unordered_set>

#include "common/file.h"
#include "deploy/tree/hash_cache.h"
#include "deploy/tree/ignore_rules.h"

namespace moor::deploy {
namespace {

class ScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-scanner-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    dir_ = tmp_ + "/code";
    cache_ = tmp_ + "/cache/scan.idx";
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(tmp_)); }

  void Write(const std::string& rel, std::string_view content, mode_t mode = 0644) {
    std::string path = dir_ + "/" + rel;
    size_t slash = path.rfind('/');
    ASSERT_TRUE(MkdirAll(path.substr(0, slash)));
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ASSERT_EQ(fchmod(fd, mode), 0);
    close(fd);
  }
  void Mkdir(const std::string& rel) { ASSERT_TRUE(MkdirAll(dir_ + "/" + rel)); }
  void Symlink(const std::string& target, const std::string& rel) {
    ASSERT_EQ(symlink(target.c_str(), (dir_ + "/" + rel).c_str()), 0);
  }
  // Sets a path's mtime `offset` from now (which also sets its ctime to now).
  void SetMtime(const std::string& rel, std::chrono::nanoseconds offset) {
    auto t = std::chrono::system_clock::now().time_since_epoch() + offset;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t).count();
    timespec ts[2] = {{ns / 1'000'000'000, ns % 1'000'000'000}, {ns / 1'000'000'000, ns % 1'000'000'000}};
    ASSERT_EQ(utimensat(AT_FDCWD, (dir_ + "/" + rel).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
  }
  // Lets the racy window pass: what exists now is older than the next scan's start − 20 ms.
  static void Settle() { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }

  ScanResult MustScan(int threads = 2) {
    auto r = Scan(ScanOptions{.dir = dir_, .cache_path = cache_, .threads = threads});
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return ScanResult{};
    CheckConsistent(*r);
    return std::move(*r);
  }

  // trees: every tree parses, children come before parents, root last; every
  // file and symlink blob is in `blobs`.
  static void CheckConsistent(const ScanResult& r) {
    ASSERT_FALSE(r.trees.empty());
    EXPECT_EQ(r.trees.back().digest, r.root);
    std::unordered_set<std::string> earlier;
    for (const auto& t : r.trees) {
      EXPECT_EQ(TreeDigest(t.bytes), t.digest) << t.path;
      auto parsed = ParseTree(t.bytes);
      ASSERT_TRUE(parsed) << parsed.error().message();
      for (const auto& e : parsed->entries) {
        if (e.kind == EntryKind::kDir) {
          EXPECT_TRUE(earlier.contains(e.digest.hex())) << t.path << "/" << e.name << " comes after its parent";
        } else {
          auto it = r.blobs.find(e.digest.hex());
          ASSERT_NE(it, r.blobs.end()) << t.path << "/" << e.name;
          EXPECT_EQ(it->second.size, e.size) << e.name;
        }
      }
      EXPECT_TRUE(earlier.insert(t.digest.hex()).second) << "tree listed twice: " << t.path;
    }
  }

  // The entries of the directory at `path` ("" = root), by name.
  static std::map<std::string, TreeEntry> Entries(const ScanResult& r, const std::string& path) {
    std::map<std::string, TreeEntry> out;
    image::Digest want = r.root;
    std::string_view rest = path;
    auto find = [&](const image::Digest& d) -> Tree {
      for (const auto& t : r.trees) {
        if (t.digest == d) return *ParseTree(t.bytes);
      }
      ADD_FAILURE() << "no tree " << d.str();
      return Tree{};
    };
    Tree t = find(want);
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      std::string part(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      auto it = std::find_if(t.entries.begin(), t.entries.end(), [&](const TreeEntry& e) { return e.name == part; });
      if (it == t.entries.end() || it->kind != EntryKind::kDir) {
        ADD_FAILURE() << "no directory " << part << " in " << path;
        return out;
      }
      t = find(it->digest);
    }
    for (auto& e : t.entries) out[e.name] = e;
    return out;
  }

  static bool HasWarning(const ScanResult& r, std::string_view part) {
    for (const auto& w : r.warnings) {
      if (w.find(part) != std::string::npos) return true;
    }
    return false;
  }

  void MakeSmallTree() {
    Write("index.php", "<?php echo 1;\n");
    Write("src/a.php", "a");
    Write("src/b.php", "bb");
    Write("src/lib/c.php", "ccc");
    Write("public/style.css", "body{}");
    Mkdir("empty");
  }

  std::string tmp_, dir_, cache_;
};

TEST_F(ScannerTest, RescanHashesNothing) {
  MakeSmallTree();
  Settle();
  ScanResult first = MustScan();
  EXPECT_EQ(first.files, 5);
  EXPECT_EQ(first.hashed, 5);
  EXPECT_EQ(first.cache_hits, 0);
  EXPECT_EQ(first.bytes_hashed, 14 + 1 + 2 + 3 + 6);
  EXPECT_EQ(first.total_bytes, first.bytes_hashed);
  EXPECT_EQ(first.dirs, 5);  // root, src, src/lib, public, empty
  EXPECT_TRUE(first.warnings.empty());
  ScanResult again = MustScan();
  EXPECT_EQ(again.hashed, 0);
  EXPECT_EQ(again.bytes_hashed, 0);
  EXPECT_EQ(again.cache_hits, 5);
  EXPECT_EQ(again.root, first.root);
  EXPECT_EQ(again.total_bytes, first.total_bytes);
  ASSERT_EQ(again.trees.size(), first.trees.size());
  for (size_t i = 0; i < again.trees.size(); ++i) EXPECT_EQ(again.trees[i].bytes, first.trees[i].bytes);
}

TEST_F(ScannerTest, ResultDescribesTheTree) {
  MakeSmallTree();
  ScanResult r = MustScan();
  auto root = Entries(r, "");
  ASSERT_EQ(root.size(), 4u);
  EXPECT_EQ(root["index.php"].kind, EntryKind::kFile);
  EXPECT_EQ(root["index.php"].digest, image::Sha256Of("<?php echo 1;\n"));
  EXPECT_EQ(root["index.php"].size, 14);
  EXPECT_EQ(root["empty"].kind, EntryKind::kDir);
  EXPECT_EQ(root["empty"].digest, TreeDigest("moor-tree 1\n"));  // empty directories are kept
  EXPECT_EQ(Entries(r, "src/lib").at("c.php").digest, image::Sha256Of("ccc"));
  const BlobSource& src = r.blobs.at(image::Sha256Of("ccc").hex());
  EXPECT_EQ(src.path, dir_ + "/src/lib/c.php");
  EXPECT_EQ(src.size, 3);
  // The root's path is "" and comes last.
  EXPECT_EQ(r.trees.back().path, "");
}

TEST_F(ScannerTest, EqualSubtreesAreListedOnce) {
  Write("a/x.php", "same");
  Write("b/x.php", "same");
  ScanResult r = MustScan();
  EXPECT_EQ(r.dirs, 3);
  EXPECT_EQ(r.trees.size(), 2u);  // a and b have one digest
  EXPECT_EQ(r.blobs.size(), 1u);
  EXPECT_EQ(r.files, 2);
  EXPECT_EQ(Entries(r, "").at("a").digest, Entries(r, "").at("b").digest);
}

TEST_F(ScannerTest, TouchingOneFileHashesOne) {
  MakeSmallTree();
  Settle();
  ScanResult first = MustScan();
  ASSERT_EQ(MustScan().hashed, 0);
  SetMtime("src/b.php", std::chrono::seconds(-100));  // only the timestamps change (ctime too)
  Settle();
  ScanResult touched = MustScan();
  EXPECT_EQ(touched.hashed, 1);
  EXPECT_EQ(touched.bytes_hashed, 2);
  EXPECT_EQ(touched.cache_hits, 4);
  EXPECT_EQ(touched.root, first.root);  // same bytes, same tree
  EXPECT_EQ(MustScan().hashed, 0);

  // Same size, new bytes: the tree changes.
  Write("src/b.php", "BB");
  Settle();
  ScanResult changed = MustScan();
  EXPECT_EQ(changed.hashed, 1);
  EXPECT_NE(changed.root, first.root);
  EXPECT_EQ(Entries(changed, "src").at("b.php").digest, image::Sha256Of("BB"));
}

TEST_F(ScannerTest, FileReplacedByRenameIsHashedAgain) {
  MakeSmallTree();
  Settle();
  MustScan();
  struct stat old {};
  ASSERT_EQ(stat((dir_ + "/src/a.php").c_str(), &old), 0);
  // An editor's save: write a new file, give it the old mtime, rename it over.
  Write("src/.a.php.swp", "A");
  timespec ts[2] = {old.st_atim, old.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir_ + "/src/.a.php.swp").c_str(), ts, 0), 0);
  ASSERT_EQ(rename((dir_ + "/src/.a.php.swp").c_str(), (dir_ + "/src/a.php").c_str()), 0);
  Settle();
  ScanResult r = MustScan();
  EXPECT_EQ(r.hashed, 1);
  EXPECT_EQ(Entries(r, "src").at("a.php").digest, image::Sha256Of("A"));
}

TEST_F(ScannerTest, AddedAndRemovedEntriesAreSeen) {
  MakeSmallTree();
  Settle();
  ScanResult first = MustScan();
  Write("src/lib/new.php", "new");
  ASSERT_EQ(unlink((dir_ + "/src/a.php").c_str()), 0);
  ASSERT_EQ(rmdir((dir_ + "/empty").c_str()), 0);
  Settle();
  ScanResult r = MustScan();
  EXPECT_EQ(r.hashed, 1);
  EXPECT_EQ(r.files, 5);
  EXPECT_EQ(r.dirs, 4);
  EXPECT_TRUE(Entries(r, "src/lib").contains("new.php"));
  EXPECT_FALSE(Entries(r, "src").contains("a.php"));
  EXPECT_FALSE(Entries(r, "").contains("empty"));
  EXPECT_EQ(MustScan().hashed, 0);
}

TEST_F(ScannerTest, RacyEntriesAreHashedAgain) {
  MakeSmallTree();
  // An mtime at or after the scan's start − 20 ms cannot be trusted: the file
  // may change again within the same clock tick without changing its stat.
  SetMtime("src/a.php", std::chrono::hours(1));
  Settle();
  EXPECT_EQ(MustScan().hashed, 5);
  EXPECT_EQ(MustScan().hashed, 1);  // only the racy one
  EXPECT_EQ(MustScan().hashed, 1);

  // Back in the past: its ctime is now, so it is racy once more, then trusted.
  SetMtime("src/a.php", std::chrono::hours(-1));
  EXPECT_EQ(MustScan().hashed, 1);  // its stat changed
  Settle();
  EXPECT_LE(MustScan().hashed, 1);  // 1 when that scan began within 20 ms of the change (racy)
  EXPECT_EQ(MustScan().hashed, 0);
}

TEST_F(ScannerTest, FreshlyWrittenFilesAreNotTrustedAtOnce) {
  Settle();
  Write("fresh.php", "1");
  ScanResult first = MustScan();  // starts within 20 ms of the write unless the machine stalls
  ASSERT_EQ(first.hashed, 1);
  // Rewritten with the same size and, on a coarse clock, possibly the same mtime.
  Write("fresh.php", "2");
  ScanResult second = MustScan();
  EXPECT_EQ(Entries(second, "").at("fresh.php").digest, image::Sha256Of("2"));
}

TEST_F(ScannerTest, IgnoreRulesWithoutExceptionsSkipDirectories) {
  MakeSmallTree();
  Write(".moorignore", "# comment\nvendor\n*.log\nsrc/lib\n");
  Write("vendor/pkg/x.php", "x");
  Write("debug.log", "log");
  Write("src/keep.log.php", "kept");
  // A FIFO inside an excluded directory would warn if the walk entered it.
  ASSERT_EQ(mkfifo((dir_ + "/vendor/pkg/fifo").c_str(), 0644), 0);
  ScanResult r = MustScan();
  auto root = Entries(r, "");
  EXPECT_FALSE(root.contains("vendor"));
  EXPECT_FALSE(root.contains("debug.log"));
  EXPECT_TRUE(root.contains(".moorignore"));
  EXPECT_TRUE(Entries(r, "src").contains("keep.log.php"));
  EXPECT_FALSE(Entries(r, "src").contains("lib"));
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  // The same verdicts from the directory records of the cache.
  ScanResult again = MustScan();
  EXPECT_EQ(again.root, r.root);
}

TEST_F(ScannerTest, IgnoreExceptionsKeepFilesInExcludedDirectories) {
  Write(".moorignore", "vendor\n!vendor/keep/*.php\n");
  Write("vendor/keep/a.php", "a");
  Write("vendor/keep/b.txt", "b");
  Write("vendor/drop/c.php", "c");
  Mkdir("vendor/empty");
  ScanResult r = MustScan();
  auto vendor = Entries(r, "vendor");
  EXPECT_EQ(vendor.size(), 1u);  // excluded directories with nothing kept are left out
  auto keep = Entries(r, "vendor/keep");
  EXPECT_EQ(keep.size(), 1u);
  EXPECT_TRUE(keep.contains("a.php"));
  EXPECT_EQ(r.files, 2);  // .moorignore and vendor/keep/a.php
  EXPECT_EQ(MustScan().root, r.root);
}

TEST_F(ScannerTest, UnchangedDirectoriesAreNotListedAgain) {
  MakeSmallTree();
  Write(".moorignore", "**/*.log\n");
  Settle();
  ScanResult first = MustScan();
  // Doctor the cached listing of "src": a scan that trusts it (no getdents,
  // no ignore matching) sees a name that is not there and a changed verdict.
  int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto rules = LoadIgnoreRules(fd, dir_);
  close(fd);
  ASSERT_TRUE(rules) << rules.error().message();
  bool damaged = true;
  HashCache cache = HashCache::Load(cache_, rules->digest, &damaged);
  ASSERT_FALSE(damaged);
  const CachedDir* src = cache.UseDir("src");
  ASSERT_NE(src, nullptr);
  CachedDir doctored = *src;
  for (auto& n : doctored.names) {
    if (n.name == "b.php") n.excluded = true;
  }
  ASSERT_TRUE(cache.Save(cache_, 1));
  ScanResult r = MustScan();
  EXPECT_EQ(r.hashed, 0);
  EXPECT_TRUE(Entries(r, "src").contains("b.php"));
  cache = HashCache::Load(cache_, rules->digest, &damaged);
  cache.PutDir("src", doctored);
  ASSERT_TRUE(cache.Save(cache_, 1));
  r = MustScan();
  EXPECT_FALSE(Entries(r, "src").contains("b.php"));  // the cached verdict was used
  // Once the directory changes, it is listed again.
  Write("src/new.log", "x");
  Settle();
  r = MustScan();
  EXPECT_TRUE(Entries(r, "src").contains("b.php"));
  EXPECT_FALSE(Entries(r, "src").contains("new.log"));
  EXPECT_EQ(r.root, first.root);
}

TEST_F(ScannerTest, DockerignoreIsUsedWithoutMoorignore) {
  Write(".dockerignore", "*.md\n");
  Write("README.md", "r");
  Write("a.php", "a");
  auto root = Entries(MustScan(), "");
  EXPECT_FALSE(root.contains("README.md"));
  EXPECT_TRUE(root.contains("a.php"));
  // .moorignore wins over .dockerignore.
  Write(".moorignore", "a.php\n");
  root = Entries(MustScan(), "");
  EXPECT_TRUE(root.contains("README.md"));
  EXPECT_FALSE(root.contains("a.php"));
}

TEST_F(ScannerTest, ChangedRulesDoNotReuseOldVerdicts) {
  Write(".moorignore", "");
  Write("a.php", "a");
  Write("b.php", "b");
  Settle();
  EXPECT_TRUE(Entries(MustScan(), "").contains("b.php"));
  // The same cache file, and unchanged directories: the verdicts must come from the new rules.
  Write(".moorignore", "b.php\n");
  Settle();
  ScanResult r = MustScan();
  EXPECT_FALSE(Entries(r, "").contains("b.php"));
  EXPECT_EQ(r.hashed, 1);  // only .moorignore itself
}

TEST_F(ScannerTest, GitIsExcludedUnlessAsked) {
  Write(".git/HEAD", "ref: refs/heads/main\n");
  ASSERT_EQ(mkfifo((dir_ + "/.git/fifo").c_str(), 0644), 0);
  Write("a.php", "a");
  ScanResult r = MustScan();
  EXPECT_FALSE(Entries(r, "").contains(".git"));
  EXPECT_TRUE(r.warnings.empty());

  // Other exceptions do not make the walk enter .git.
  Write(".moorignore", "vendor\n!vendor/keep.php\n");
  r = MustScan();
  EXPECT_FALSE(Entries(r, "").contains(".git"));
  EXPECT_TRUE(r.warnings.empty());

  Write(".moorignore", "!.git\n");
  r = MustScan();
  EXPECT_TRUE(Entries(r, ".git").contains("HEAD"));
  EXPECT_TRUE(HasWarning(r, "FIFO"));
}

TEST_F(ScannerTest, SymlinksAndExecBits) {
  Write("run.sh", "#!/bin/sh\n", 0755);
  Write("owner-exec", "x", 0744);
  Write("group-exec", "x", 0614);
  Write("plain.php", "p", 0600);
  Write("setuid", "s", 04644);
  Write("conf/app.php", "c");
  Symlink("conf/app.php", "inside");
  Symlink("../conf/app.php", "conf/self");
  Symlink("/etc/passwd", "absolute");
  Symlink("../../outside", "conf/escape");
  Settle();
  ScanResult r = MustScan();
  auto root = Entries(r, "");
  EXPECT_EQ(root["run.sh"].kind, EntryKind::kExec);
  EXPECT_EQ(root["owner-exec"].kind, EntryKind::kExec);
  EXPECT_EQ(root["group-exec"].kind, EntryKind::kExec);
  EXPECT_EQ(root["plain.php"].kind, EntryKind::kFile);
  EXPECT_EQ(root["setuid"].kind, EntryKind::kFile);
  EXPECT_EQ(root["inside"].kind, EntryKind::kSymlink);
  EXPECT_EQ(root["inside"].digest, image::Sha256Of("conf/app.php"));
  EXPECT_EQ(root["inside"].size, 12);
  const BlobSource& link = r.blobs.at(image::Sha256Of("conf/app.php").hex());
  EXPECT_EQ(link.inline_, "conf/app.php");
  EXPECT_EQ(link.path, "");
  EXPECT_EQ(r.symlinks, 4);
  EXPECT_EQ(r.files, 6);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_TRUE(HasWarning(r, "\"absolute\" -> \"/etc/passwd\" is absolute"));
  EXPECT_TRUE(HasWarning(r, "\"conf/escape\" -> \"../../outside\" leaves"));
  // A mode change alone (ctime) is seen.
  EXPECT_EQ(MustScan().hashed, 0);
  ASSERT_EQ(chmod((dir_ + "/plain.php").c_str(), 0700), 0);
  Settle();
  ScanResult after = MustScan();
  EXPECT_EQ(after.hashed, 1);
  EXPECT_EQ(Entries(after, "")["plain.php"].kind, EntryKind::kExec);
}

TEST_F(ScannerTest, SpecialFilesAreSkippedWithAWarning) {
  Write("a.php", "a");
  ASSERT_EQ(mkfifo((dir_ + "/pipe").c_str(), 0644), 0);
  ScanResult r = MustScan();
  EXPECT_FALSE(Entries(r, "").contains("pipe"));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("\"pipe\": it is a FIFO"), std::string::npos) << r.warnings[0];
  // Also when the directory listing comes from the cache.
  EXPECT_TRUE(HasWarning(MustScan(), "FIFO"));
}

TEST_F(ScannerTest, DamagedCacheIsIgnored) {
  MakeSmallTree();
  Settle();
  ScanResult first = MustScan();
  std::string bytes = *ReadFile(cache_);
  for (size_t at : {bytes.size() / 2, size_t{3}, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] ^= 0x20;
    ASSERT_TRUE(WriteFileAtomic(cache_, bad));
    ScanResult r = MustScan();
    EXPECT_EQ(r.hashed, 5) << "flipped byte " << at;
    EXPECT_EQ(r.root, first.root);
    EXPECT_TRUE(HasWarning(r, "damaged")) << "flipped byte " << at;
    EXPECT_EQ(MustScan().hashed, 0);  // rewritten
    ASSERT_TRUE(WriteFileAtomic(cache_, bytes));
  }
  ASSERT_TRUE(WriteFileAtomic(cache_, bytes.substr(0, bytes.size() / 3)));
  EXPECT_EQ(MustScan().hashed, 5);
  ASSERT_TRUE(WriteFileAtomic(cache_, ""));
  EXPECT_EQ(MustScan().hashed, 5);
}

TEST_F(ScannerTest, CacheIsRewrittenOnlyWhenSomethingChanged) {
  MakeSmallTree();
  Settle();
  MustScan();
  struct stat a {
  }, b{};
  ASSERT_EQ(stat(cache_.c_str(), &a), 0);
  MustScan();
  ASSERT_EQ(stat(cache_.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // not replaced
  Write("src/new.php", "n");
  Settle();
  MustScan();
  ASSERT_EQ(stat(cache_.c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);
}

TEST_F(ScannerTest, NoCacheHashesEverything) {
  MakeSmallTree();
  Settle();
  for (int i = 0; i < 2; ++i) {
    auto r = Scan(ScanOptions{.dir = dir_, .cache_path = "-"});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->hashed, 5);
  }
  EXPECT_FALSE(PathExists(cache_));
}

TEST_F(ScannerTest, ThreadsDoNotChangeTheResult) {
  for (int i = 0; i < 200; ++i) Write("d" + std::to_string(i % 7) + "/f" + std::to_string(i), std::to_string(i));
  ScanResult one = *Scan(ScanOptions{.dir = dir_, .cache_path = "-", .threads = 1});
  ScanResult four = *Scan(ScanOptions{.dir = dir_, .cache_path = "-", .threads = 4});
  EXPECT_EQ(one.root, four.root);
  EXPECT_EQ(four.hashed, 200);
  EXPECT_EQ(one.blobs.size(), four.blobs.size());
}

TEST_F(ScannerTest, UnreadableFileIsAClearError) {
  Write("a.php", "a");
  Write("secret.php", "s", 0000);
  ASSERT_EQ(chmod(tmp_.c_str(), 0755), 0);
  // Root reads anything: check as an unprivileged user in a child process.
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipefd[0]);
    if (geteuid() == 0 &&
        (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)) {
      _exit(2);
    }
    auto r = Scan(ScanOptions{.dir = dir_, .cache_path = "-"});
    std::string msg = r ? "scan succeeded" : r.error().message();
    (void)!write(pipefd[1], msg.data(), msg.size());
    _exit(0);
  }
  close(pipefd[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(msg,
            "cannot read \"" + dir_ + "/secret.php\": Permission denied (make it readable, or list it in .moorignore)");
}

TEST_F(ScannerTest, BadInputIsAnError) {
  auto missing = Scan(ScanOptions{.dir = tmp_ + "/nope", .cache_path = "-"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("nope"), std::string::npos);
  Write("file", "x");
  EXPECT_FALSE(Scan(ScanOptions{.dir = dir_ + "/file", .cache_path = "-"}));
  Write(".moorignore", "[unterminated\n");
  auto bad = Scan(ScanOptions{.dir = dir_, .cache_path = "-"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find(".moorignore"), std::string::npos) << bad.error().message();
}

TEST_F(ScannerTest, DefaultCachePathFollowsTheRules) {
  const char* old = getenv("XDG_CACHE_HOME");
  std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", (tmp_ + "/xdg").c_str(), 1);
  auto a = DefaultCachePath(dir_);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(a->starts_with(tmp_ + "/xdg/moor/deploy/")) << *a;
  EXPECT_TRUE(a->ends_with(".idx"));
  EXPECT_EQ(*DefaultCachePath(dir_ + "/."), *a);  // the real path counts
  Write(".moorignore", "x\n");
  EXPECT_NE(*DefaultCachePath(dir_), *a);
  // Scan uses it when no path is given.
  auto r = Scan(ScanOptions{.dir = dir_, .cache_path = ""});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(PathExists(*DefaultCachePath(dir_)));
  if (old) {
    setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  } else {
    unsetenv("XDG_CACHE_HOME");
  }
}

}  // namespace
}  // namespace moor::deploy
