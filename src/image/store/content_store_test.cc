#include "image/store/content_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/file.h"
#include "image/store/store_test_util.h"

namespace moor::image {
namespace {

using testing::TempDir;
using testing::WaitForFlockWaiter;

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    auto s = ContentStore::Open(tmp_.path() + "/content");
    ASSERT_TRUE(s) << s.error().message();
    store_.emplace(std::move(*s));
  }
  ContentStore& store() { return *store_; }
  std::string IngestDir(const Digest& d) { return store().root() + "/ingest/" + d.hex(); }

  TempDir tmp_;
  std::optional<ContentStore> store_;
};

std::unique_ptr<Ingest> MustBegin(ContentStore& s, const Digest& d, int64_t size) {
  auto r = s.BeginIngest(d, size);
  EXPECT_TRUE(r) << r.error().message();
  return r ? std::move(*r) : nullptr;
}

TEST_F(ContentStoreTest, WriteAndRead) {
  const std::string data = "hello, blob";
  auto d = store().WriteBlob(data);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, Sha256Of(data));
  EXPECT_EQ(store().BlobPath(*d), store().root() + "/blobs/sha256/" + d->hex());
  EXPECT_TRUE(store().Has(*d));
  EXPECT_EQ(store().Size(*d), static_cast<int64_t>(data.size()));
  EXPECT_EQ(store().ReadBlob(*d), data);
  struct stat st;
  ASSERT_EQ(::stat(store().BlobPath(*d).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(store().ListBlobs(), std::vector<Digest>{*d});
  EXPECT_FALSE(PathExists(IngestDir(*d)));  // finished ingests leave nothing behind
  // Writing it again is a no-op.
  EXPECT_EQ(store().WriteBlob(data, *d), *d);
  EXPECT_TRUE(store().Verify(*d));
}

TEST_F(ContentStoreTest, AbsentBlob) {
  Digest d = Sha256Of("nothing");
  EXPECT_FALSE(store().Has(d));
  auto size = store().Size(d);
  ASSERT_FALSE(size);
  EXPECT_EQ(size.error().message(), "blob " + d.str() + " is not in the content store");
  EXPECT_FALSE(store().Open(d));
  EXPECT_FALSE(store().ReadBlob(d));
  EXPECT_TRUE(store().Delete(d));  // absent is not an error
}

TEST_F(ContentStoreTest, WrongDigestIsRejectedAndNothingCommitted) {
  Digest want = Sha256Of("the real content");
  auto r = store().WriteBlob("something else", want);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "blob " + want.str() + ": content has digest " +
                                     Sha256Of("something else").str() + " (corrupt or truncated download)");
  EXPECT_TRUE(store().ListBlobs().empty());

  auto ingest = MustBegin(store(), want, 16);
  ASSERT_TRUE(ingest);
  ASSERT_TRUE(ingest->Write("the real c0ntent", 16));
  auto c = ingest->Commit();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "blob " + want.str() + ": content has digest " +
                                     Sha256Of("the real c0ntent").str() + " (corrupt or truncated download)");
  EXPECT_FALSE(store().Has(want));
  EXPECT_TRUE(store().ListBlobs().empty());
  ingest.reset();
  // The bad partial data was discarded: a new ingest starts from zero.
  auto again = MustBegin(store(), want, 16);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Offset(), 0);
}

TEST_F(ContentStoreTest, SizeIsChecked) {
  const std::string data = "0123456789";
  Digest d = Sha256Of(data);
  auto ingest = MustBegin(store(), d, 10);
  ASSERT_TRUE(ingest);
  EXPECT_FALSE(ingest->Write("0123456789ab", 12));  // more than announced
  ASSERT_TRUE(ingest->Write("01234", 5));
  auto c = ingest->Commit();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "blob " + d.str() + ": got 5 bytes, expected 10 (truncated download)");
  EXPECT_FALSE(store().Has(d));
  ASSERT_TRUE(ingest->Write("56789", 5));  // still usable: the prefix was kept
  ASSERT_TRUE(ingest->Commit());
  EXPECT_EQ(store().ReadBlob(d), data);
}

TEST_F(ContentStoreTest, ResumeContinuesFromThePartialData) {
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + (i >> 11));
  Digest d = Sha256Of(data);
  const size_t half = data.size() / 2 + 123;
  {
    auto first = MustBegin(store(), d, static_cast<int64_t>(data.size()));
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->AlreadyPresent());
    EXPECT_EQ(first->Offset(), 0);
    ASSERT_TRUE(first->Write(data.data(), half));
  }  // "interrupted": the lock is released, the partial data stays
  auto second = MustBegin(store(), d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->Offset(), static_cast<int64_t>(half));
  ASSERT_TRUE(second->Write(data.data() + half, data.size() - half));
  ASSERT_TRUE(second->Commit()) << "the re-hashed prefix must count towards the digest";
  EXPECT_EQ(store().ReadBlob(d), data);
}

TEST_F(ContentStoreTest, ResumeWithUnknownSizeAndOversizedPartial) {
  const std::string data = "abcdefgh";
  Digest d = Sha256Of(data);
  {
    auto first = MustBegin(store(), d, -1);
    ASSERT_TRUE(first->Write("abcdefghXYZ", 11));  // a broken earlier attempt wrote too much
  }
  // With a known size, a partial longer than the blob cannot be a prefix: start over.
  auto second = MustBegin(store(), d, 8);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->Offset(), 0);
  ASSERT_TRUE(second->Write("abcd", 4));
  second.reset();
  auto third = MustBegin(store(), d, -1);
  EXPECT_EQ(third->Offset(), 4);
  ASSERT_TRUE(third->Write("efgh", 4));
  ASSERT_TRUE(third->Commit());
  EXPECT_TRUE(store().Has(d));
}

TEST_F(ContentStoreTest, ResetDropsPartialData) {
  const std::string data = "right bytes";
  Digest d = Sha256Of(data);
  auto ingest = MustBegin(store(), d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(ingest->Write("wrong", 5));
  ASSERT_TRUE(ingest->Reset());
  EXPECT_EQ(ingest->Offset(), 0);
  ASSERT_TRUE(ingest->Write(data.data(), data.size()));
  ASSERT_TRUE(ingest->Commit());
  EXPECT_EQ(store().ReadBlob(d), data);
}

TEST_F(ContentStoreTest, AlreadyPresentIngest) {
  auto d = store().WriteBlob("present");
  ASSERT_TRUE(d);
  auto ingest = MustBegin(store(), *d, 7);
  ASSERT_TRUE(ingest);
  EXPECT_TRUE(ingest->AlreadyPresent());
  EXPECT_EQ(ingest->Offset(), 7);
  EXPECT_TRUE(ingest->Commit());
  EXPECT_FALSE(PathExists(IngestDir(*d)));
}

TEST_F(ContentStoreTest, SecondThreadWaitsThenFindsTheBlob) {
  const std::string data = "written once";
  Digest d = Sha256Of(data);
  auto holder = MustBegin(store(), d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(holder);
  ASSERT_TRUE(holder->Write(data.data(), 4));

  std::atomic<int> outcome{-1};  // 1: already present, 0: got a writable ingest, 2: error
  std::thread waiter([&] {
    auto r = store().BeginIngest(d, static_cast<int64_t>(data.size()));
    outcome = !r ? 2 : ((*r)->AlreadyPresent() ? 1 : 0);
  });
  // Not ASSERT: the waiter thread must be joined whatever happens.
  EXPECT_TRUE(WaitForFlockWaiter(IngestDir(d) + "/lock"));
  EXPECT_EQ(outcome.load(), -1);  // blocked on the lock
  EXPECT_TRUE(holder->Write(data.data() + 4, data.size() - 4));
  EXPECT_TRUE(holder->Commit());
  holder.reset();
  waiter.join();
  EXPECT_EQ(outcome.load(), 1);
  EXPECT_FALSE(PathExists(IngestDir(d)));
}

TEST_F(ContentStoreTest, ManyThreadsOneWriter) {
  std::string data(1 << 20, 'x');
  Digest d = Sha256Of(data);
  std::atomic<int> writers{0}, present{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = store().BeginIngest(d, static_cast<int64_t>(data.size()));
      if (!r) {
        ++errors;
        return;
      }
      if ((*r)->AlreadyPresent()) {
        ++present;
        return;
      }
      if ((*r)->Reset() && (*r)->Write(data.data(), data.size()) && (*r)->Commit()) {
        ++writers;
      } else {
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(writers.load(), 1);
  EXPECT_EQ(present.load(), 7);
  EXPECT_EQ(store().ReadBlob(d, 2 << 20), data);
}

// Reads one byte from fd (the other side's "go").
bool Await(int fd) {
  char c;
  ssize_t n;
  do {
    n = ::read(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}
void Signal(int fd) {
  (void)!::write(fd, "x", 1);
}

TEST_F(ContentStoreTest, SecondProcessWaitsThenFindsTheBlob) {
  const std::string data = "from another process";
  Digest d = Sha256Of(data);
  int to_child[2], to_parent[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(to_parent, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: take the ingest, report, wait for the parent to block, commit.
    auto ingest = store().BeginIngest(d, static_cast<int64_t>(data.size()));
    if (!ingest || (*ingest)->AlreadyPresent()) _exit(2);
    if (!(*ingest)->Write(data.data(), 3)) _exit(3);
    Signal(to_parent[1]);
    if (!Await(to_child[0])) _exit(4);
    if (!(*ingest)->Write(data.data() + 3, data.size() - 3) || !(*ingest)->Commit()) _exit(5);
    _exit(0);
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  ASSERT_TRUE(Await(to_parent[0]));
  std::atomic<int> outcome{-1};
  std::thread waiter([&] {
    auto r = store().BeginIngest(d, static_cast<int64_t>(data.size()));
    outcome = !r ? 2 : ((*r)->AlreadyPresent() ? 1 : 0);
  });
  bool blocked = WaitForFlockWaiter(IngestDir(d) + "/lock");
  Signal(to_child[1]);
  waiter.join();
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(to_child[1]);
  ::close(to_parent[0]);
  EXPECT_TRUE(blocked);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(outcome.load(), 1);
  EXPECT_EQ(store().ReadBlob(d), data);
}

TEST_F(ContentStoreTest, ManyProcessesOneWriter) {
  std::string data(2 << 20, 'p');
  Digest d = Sha256Of(data);
  std::vector<pid_t> pids;
  for (int i = 0; i < 6; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto r = store().BeginIngest(d, static_cast<int64_t>(data.size()));
      if (!r) _exit(1);
      if ((*r)->AlreadyPresent()) _exit(10);
      if (!(*r)->Reset() || !(*r)->Write(data.data(), data.size()) || !(*r)->Commit()) _exit(1);
      _exit(0);
    }
    pids.push_back(pid);
  }
  int writers = 0, present = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) ++writers;
    if (WEXITSTATUS(status) == 10) ++present;
  }
  EXPECT_EQ(writers, 1);
  EXPECT_EQ(present, 5);
  EXPECT_TRUE(store().Verify(d));
}

TEST_F(ContentStoreTest, VerifyAndReadBlobRemoveCorruptBlobs) {
  auto d = store().WriteBlob("good bytes");
  ASSERT_TRUE(d);
  std::string path = store().BlobPath(*d);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_TRUE(WriteExisting(path, "evil bytes"));
  auto v = store().Verify(*d);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("corrupt on disk"), std::string::npos) << v.error().message();
  EXPECT_FALSE(store().Has(*d));

  auto d2 = store().WriteBlob("more good bytes");
  ASSERT_TRUE(d2);
  ASSERT_EQ(::chmod(store().BlobPath(*d2).c_str(), 0644), 0);
  ASSERT_TRUE(WriteExisting(store().BlobPath(*d2), "more evil bytes"));
  EXPECT_FALSE(store().ReadBlob(*d2));
  EXPECT_FALSE(store().Has(*d2));
}

TEST_F(ContentStoreTest, ReadBlobRefusesLargeBlobs) {
  auto d = store().WriteBlob(std::string(1000, 'b'));
  ASSERT_TRUE(d);
  auto r = store().ReadBlob(*d, 999);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("1000 bytes"), std::string::npos);
  EXPECT_TRUE(store().ReadBlob(*d, 1000));
}

TEST_F(ContentStoreTest, WriteBlobFromFd) {
  std::string src = tmp_.path() + "/src";
  std::string data(300000, 'z');
  ASSERT_TRUE(WriteFileAtomic(src, data));
  UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  auto d = store().WriteBlobFromFd(fd.get());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, Sha256Of(data));
  EXPECT_EQ(store().Size(*d), 300000);

  UniqueFd again(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  Digest other = Sha256Of("other");
  auto bad = store().WriteBlobFromFd(again.get(), other);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("content has digest " + d->str()), std::string::npos);
  EXPECT_FALSE(store().Has(other));
  auto leftovers = store().ListBlobs();
  EXPECT_EQ(leftovers.size(), 1u);
  std::string tmp_dir = store().root() + "/tmp";
  EXPECT_EQ(::rmdir(tmp_dir.c_str()), 0) << "tmp/ should be empty";
}

TEST_F(ContentStoreTest, DeleteAndList) {
  auto a = store().WriteBlob("a");
  auto b = store().WriteBlob("b");
  ASSERT_TRUE(a && b);
  auto list = store().ListBlobs();
  EXPECT_EQ(list.size(), 2u);
  EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
  ASSERT_TRUE(store().Delete(*a));
  EXPECT_FALSE(store().Has(*a));
  EXPECT_EQ(store().ListBlobs(), std::vector<Digest>{*b});
  // Stray files in blobs/sha256 are not blobs.
  ASSERT_TRUE(WriteFileAtomic(store().root() + "/blobs/sha256/README", "x"));
  EXPECT_EQ(store().ListBlobs(), std::vector<Digest>{*b});
}

TEST_F(ContentStoreTest, CleanIngestsLeavesLockedIngestsAlone) {
  Digest abandoned = Sha256Of("abandoned");
  Digest held = Sha256Of("held");
  {
    auto a = MustBegin(store(), abandoned, 9);
    ASSERT_TRUE(a->Write("aban", 4));
  }
  auto h = MustBegin(store(), held, 4);
  ASSERT_TRUE(h->Write("he", 2));
  ASSERT_TRUE(MkdirAll(store().root() + "/ingest/stray"));  // no lock file at all

  ASSERT_TRUE(store().CleanIngests());
  EXPECT_FALSE(PathExists(IngestDir(abandoned)));
  EXPECT_FALSE(PathExists(store().root() + "/ingest/stray"));
  EXPECT_TRUE(PathExists(IngestDir(held) + "/data"));
  ASSERT_TRUE(h->Write("ld", 2));
  ASSERT_TRUE(h->Commit());
  EXPECT_TRUE(store().Has(held));
  // The abandoned one starts over.
  EXPECT_EQ(MustBegin(store(), abandoned, 9)->Offset(), 0);
}

TEST_F(ContentStoreTest, WriteBlobUnsyncedStoresVerifiedBytesOnce) {
  const std::string data = "unsynced bytes";
  Digest d = Sha256Of(data);
  auto added = store().WriteBlobUnsynced(data, d);
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_TRUE(*added);
  EXPECT_EQ(store().ReadBlob(d), data);
  struct stat st;
  ASSERT_EQ(::stat(store().BlobPath(d).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_nlink, 1u);
  // Again: already there, the same inode.
  auto again = store().WriteBlobUnsynced(data, d);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  struct stat st2;
  ASSERT_EQ(::stat(store().BlobPath(d).c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  EXPECT_FALSE(PathExists(IngestDir(d)));
  EXPECT_EQ(::rmdir((store().root() + "/tmp").c_str()), 0) << "tmp/ should be empty";
}

TEST_F(ContentStoreTest, WriteBlobUnsyncedRefusesWrongBytes) {
  Digest want = Sha256Of("the right bytes");
  auto r = store().WriteBlobUnsynced("the wrong bytes", want);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("content has digest " + Sha256Of("the wrong bytes").str()), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(store().Has(want));
  EXPECT_TRUE(store().ListBlobs().empty());
  EXPECT_FALSE(store().WriteBlobUnsynced("x", Digest()));
}

TEST_F(ContentStoreTest, WriteBlobUnsyncedConcurrentWritersAddItOnce) {
  const std::string data(200000, 'c');
  const Digest d = Sha256Of(data);
  std::atomic<int> added{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto r = store().WriteBlobUnsynced(data, d);
      if (!r) {
        ++failed;
      } else if (*r) {
        ++added;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(added.load(), 1);
  EXPECT_EQ(store().ReadBlob(d), data);
  EXPECT_EQ(store().ListBlobs(), std::vector<Digest>{d});
}

TEST_F(ContentStoreTest, SyncBlobsFewAndMany) {
  std::vector<Digest> few, many;
  for (int i = 0; i < 70; ++i) {
    std::string data = "blob " + std::to_string(i);
    Digest d = Sha256Of(data);
    ASSERT_TRUE(store().WriteBlobUnsynced(data, d));
    (i < 3 ? few : many).push_back(d);
  }
  EXPECT_TRUE(store().SyncBlobs(few));
  EXPECT_TRUE(store().SyncBlobs(many));  // > 64: one syncfs
  EXPECT_TRUE(store().SyncBlobs({}));
  Digest absent = Sha256Of("absent");
  few.push_back(absent);
  many.push_back(absent);
  for (auto* list : {&few, &many}) {
    auto r = store().SyncBlobs(*list);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(absent.str()), std::string::npos) << r.error().message();
  }
}

TEST_F(ContentStoreTest, VerifyNamesTheCallersHint) {
  auto d = store().WriteBlob("hinted bytes");
  ASSERT_TRUE(d);
  ASSERT_EQ(::chmod(store().BlobPath(*d).c_str(), 0644), 0);
  ASSERT_TRUE(WriteExisting(store().BlobPath(*d), "broken bytes"));
  auto v = store().Verify(*d, "run moor deploy again");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("it was removed, run moor deploy again"), std::string::npos)
      << v.error().message();
}

TEST_F(ContentStoreTest, OpenCreatesLayout) {
  for (const char* sub : {"/blobs/sha256", "/ingest", "/tmp"}) {
    struct stat st;
    ASSERT_EQ(::stat((store().root() + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
  }
  auto again = ContentStore::Open(store().root() + "/");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->root(), store().root());
}

}  // namespace
}  // namespace moor::image
