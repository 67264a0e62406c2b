#include "store/state_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/strings.h"

namespace moor::store {
namespace {

constexpr uint32_t Ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return a << 24 | b << 16 | c << 8 | d;
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    ASSERT_TRUE(RemoveAll(dir_));
  }
  void Reopen() {
    store_.reset();
    auto s = StateStore::Open(root_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }
  std::set<std::string> LeasedAddresses(const std::string& network) {
    std::set<std::string> out;
    auto rows = store_->Leases(network);
    EXPECT_TRUE(rows);
    if (rows) {
      for (auto& r : *rows) out.insert(r.address);
    }
    return out;
  }

  std::string dir_, root_;
  std::unique_ptr<StateStore> store_;
};

// ---- schema ----

TEST_F(StateStoreTest, CreatesPrivateDatabaseAndReopens) {
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/state.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(store_->Insert(Kind::kContainer, {"c1", "web", "{}"}));
  Reopen();  // migrations must not run twice
  Reopen();
  auto got = store_->Get(Kind::kContainer, "c1");
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "web");
}

TEST_F(StateStoreTest, RefusesNewerSchema) {
  store_.reset();
  {
    auto db = Database::Open(root_ + "/state.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 99"));
  }
  auto s = StateStore::Open(root_);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("state database schema version 99 is newer than this moor (knows 1): "
                                     "upgrade moor"),
            std::string::npos)
      << s.error().message();
}

// ---- objects ----

TEST_F(StateStoreTest, Crud) {
  ASSERT_TRUE(store_->Insert(Kind::kContainer, {"c1", "web", R"({"a":1})"}));
  ASSERT_TRUE(store_->Insert(Kind::kContainer, {"c2", "db", "{}"}));
  ASSERT_TRUE(store_->Insert(Kind::kVolume, {"v1", "v1", "{}"}));

  auto by_name = store_->GetByName(Kind::kContainer, "web");
  ASSERT_TRUE(by_name && by_name->has_value());
  EXPECT_EQ((*by_name)->id, "c1");
  EXPECT_EQ((*by_name)->json, R"({"a":1})");
  auto missing = store_->Get(Kind::kContainer, "nope");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  // Kinds are separate tables.
  auto wrong_kind = store_->Get(Kind::kNetwork, "c1");
  ASSERT_TRUE(wrong_kind);
  EXPECT_FALSE(wrong_kind->has_value());

  auto list = store_->List(Kind::kContainer);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "c1");  // insertion order
  EXPECT_EQ((*list)[1].id, "c2");

  ASSERT_TRUE(store_->Update(Kind::kContainer, {"c1", "web", R"({"a":2})"}));
  auto got = store_->Get(Kind::kContainer, "c1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->json, R"({"a":2})");

  auto absent = store_->Update(Kind::kContainer, {"zz", "zz", "{}"});
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().errnum(), ENOENT);
  EXPECT_EQ(absent.error().message(), "no such container: zz");

  ASSERT_TRUE(store_->Remove(Kind::kContainer, "c1"));
  ASSERT_TRUE(store_->Remove(Kind::kContainer, "c1"));  // absent: ok
  got = store_->Get(Kind::kContainer, "c1");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(store_->List(Kind::kContainer)->size(), 1u);
}

TEST_F(StateStoreTest, NamesAndIdsAreUnique) {
  ASSERT_TRUE(store_->Insert(Kind::kContainer, {"3f2a1b", "web", "{}"}));
  auto r = store_->Insert(Kind::kContainer, {"999", "web", "{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);
  EXPECT_EQ(r.error().message(), "container name \"web\" is already in use by container 3f2a1b");

  r = store_->Insert(Kind::kContainer, {"3f2a1b", "other", "{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);
  EXPECT_EQ(r.error().message(), "container 3f2a1b already exists");

  ASSERT_TRUE(store_->Insert(Kind::kNetwork, {"n1", "net", "{}"}));
  r = store_->Insert(Kind::kNetwork, {"n2", "net", "{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "network name \"net\" is already in use by network n1");

  // The same name in another kind is fine; the failed inserts left nothing.
  ASSERT_TRUE(store_->Insert(Kind::kVolume, {"web", "web", "{}"}));
  EXPECT_EQ(store_->List(Kind::kContainer)->size(), 1u);
  EXPECT_EQ(store_->List(Kind::kNetwork)->size(), 1u);
}

TEST_F(StateStoreTest, RenameConflict) {
  ASSERT_TRUE(store_->Insert(Kind::kVolume, {"a", "alpha", "{}"}));
  ASSERT_TRUE(store_->Insert(Kind::kVolume, {"b", "beta", "{}"}));
  auto r = store_->Update(Kind::kVolume, {"b", "alpha", "{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);
  EXPECT_EQ(r.error().message(), "volume name \"alpha\" is already in use by volume a");
  auto beta = store_->GetByName(Kind::kVolume, "beta");
  ASSERT_TRUE(beta && beta->has_value());  // unchanged

  ASSERT_TRUE(store_->Update(Kind::kVolume, {"b", "gamma", "{}"}));
  EXPECT_FALSE(store_->GetByName(Kind::kVolume, "beta")->has_value());
  EXPECT_EQ((*store_->GetByName(Kind::kVolume, "gamma"))->id, "b");
}

TEST_F(StateStoreTest, Meta) {
  EXPECT_FALSE(store_->GetMeta("daemon.id")->has_value());
  ASSERT_TRUE(store_->SetMeta("daemon.id", "x"));
  ASSERT_TRUE(store_->SetMeta("daemon.id", "y"));
  Reopen();
  EXPECT_EQ(**store_->GetMeta("daemon.id"), "y");
}

// ---- leases ----

TEST_F(StateStoreTest, LeaseHandsOutDistinctAddressesUntilFull) {
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    auto a = store_->Lease("n1", Ip(10, 0, 0, 2), Ip(10, 0, 0, 6), "c" + std::to_string(i));
    ASSERT_TRUE(a) << a.error().message();
    got.insert(*a);
  }
  EXPECT_EQ(got, (std::set<std::string>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
  auto full = store_->Lease("n1", Ip(10, 0, 0, 2), Ip(10, 0, 0, 6), "c9");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().errnum(), ENOSPC);
  EXPECT_EQ(full.error().message(), "network n1 has no free address in 10.0.0.2-10.0.0.6");
  // Another network is independent.
  auto other = store_->Lease("n2", Ip(10, 0, 0, 2), Ip(10, 0, 0, 6), "c9");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, "10.0.0.2");

  auto bad = store_->Lease("n3", Ip(10, 0, 0, 6), Ip(10, 0, 0, 2), "c9");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnum(), EINVAL);
}

TEST_F(StateStoreTest, LeaseRoundRobinsAndWraps) {
  const uint32_t first = Ip(172, 18, 0, 2), last = Ip(172, 18, 0, 4);
  EXPECT_EQ(*store_->Lease("n", first, last, "a"), "172.18.0.2");
  EXPECT_EQ(*store_->Lease("n", first, last, "b"), "172.18.0.3");
  ASSERT_TRUE(store_->Release("n", "172.18.0.2"));
  // The released .2 is not reused at once: .4 comes first.
  EXPECT_EQ(*store_->Lease("n", first, last, "c"), "172.18.0.4");
  // Then the scan wraps to the start of the range and finds .2 free.
  EXPECT_EQ(*store_->Lease("n", first, last, "d"), "172.18.0.2");
  EXPECT_FALSE(store_->Lease("n", first, last, "e"));
  auto rows = store_->Leases("n");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[2].address, "172.18.0.2");
  EXPECT_EQ((*rows)[2].owner, "d");
}

TEST_F(StateStoreTest, LeaseExact) {
  ASSERT_TRUE(store_->LeaseExact("n", "10.0.0.3", "gw"));
  auto r = store_->LeaseExact("n", "10.0.0.3", "c1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);
  EXPECT_EQ(r.error().message(), "address 10.0.0.3 in network n is already in use by gw");
  ASSERT_TRUE(store_->LeaseExact("other", "10.0.0.3", "c1"));  // per network

  auto bad = store_->LeaseExact("n", "10.0.0.300", "c1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnum(), EINVAL);

  // Lease() skips the exactly-leased address.
  EXPECT_EQ(*store_->Lease("n", Ip(10, 0, 0, 2), Ip(10, 0, 0, 9), "c2"), "10.0.0.2");
  EXPECT_EQ(*store_->Lease("n", Ip(10, 0, 0, 2), Ip(10, 0, 0, 9), "c3"), "10.0.0.4");
}

TEST_F(StateStoreTest, ReleaseOwner) {
  ASSERT_TRUE(store_->Lease("n1", Ip(10, 0, 0, 2), Ip(10, 0, 0, 9), "a"));
  ASSERT_TRUE(store_->Lease("n2", Ip(10, 0, 1, 2), Ip(10, 0, 1, 9), "a"));
  ASSERT_TRUE(store_->Lease("n1", Ip(10, 0, 0, 2), Ip(10, 0, 0, 9), "b"));
  ASSERT_TRUE(store_->ReleaseOwner("a"));
  auto rows = store_->Leases("");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].owner, "b");
  EXPECT_EQ((*rows)[0].network, "n1");
  EXPECT_EQ((*rows)[0].address, "10.0.0.3");
  ASSERT_TRUE(store_->ReleaseOwner("nobody"));
}

TEST_F(StateStoreTest, LeasesPersistAcrossReopen) {
  const uint32_t first = Ip(10, 9, 0, 2), last = Ip(10, 9, 0, 200);
  EXPECT_EQ(*store_->Lease("n", first, last, "a"), "10.9.0.2");
  EXPECT_EQ(*store_->Lease("n", first, last, "b"), "10.9.0.3");
  ASSERT_TRUE(store_->Release("n", "10.9.0.3"));
  Reopen();
  EXPECT_EQ(LeasedAddresses("n"), std::set<std::string>{"10.9.0.2"});
  // The round-robin position survived too: .3 is not handed out again yet.
  EXPECT_EQ(*store_->Lease("n", first, last, "c"), "10.9.0.4");
}

TEST_F(StateStoreTest, ConcurrentThreadsGetDistinctAddresses) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto a = store_->Lease("n", Ip(10, 1, 0, 1), Ip(10, 1, 3, 254), "t" + std::to_string(t));
        if (!a) {
          errors[t] = a.error().message();
          return;
        }
        got[t].push_back(*a);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    all.insert(got[t].begin(), got[t].end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(LeasedAddresses("n"), all);
}

// Body of a leasing child process: `count` leases, one address per line on
// success, else the error; exit code 0 only when all succeeded. With
// reopen_each the store is opened and closed around every lease, which also
// exercises open racing with another process's last close (WAL checkpoint).
int LeaseInChild(const std::string& root, int index, int count, bool reopen_each, std::string& text) {
  std::unique_ptr<StateStore> store;
  for (int i = 0; i < count; ++i) {
    if (!store) {
      auto s = StateStore::Open(root);
      if (!s) {
        text += "open: " + s.error().message() + "\n";
        return 1;
      }
      store = std::move(*s);
    }
    auto a = store->Lease("n", Ip(10, 2, 0, 1), Ip(10, 2, 1, 254), "p" + std::to_string(index));
    if (!a) {
      text += "lease: " + a.error().message() + "\n";
      return 2;
    }
    text += *a + "\n";
    if (reopen_each) store.reset();
  }
  return 0;
}

// Processes, each with its own StateStore on the same file (opened
// concurrently on a fresh root, so the migration races too), lease at the
// same time; returns every address handed out.
void LeaseInProcesses(const std::string& root, int procs, int per_proc, bool reopen_each,
                      std::vector<std::string>& addresses) {
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> pids;
  std::vector<int> outs;
  for (int p = 0; p < procs; ++p) {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(out[0]);
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) != 0) _exit(3);  // EOF once the parent closes: start together
      std::string text;
      int code = LeaseInChild(root, p, per_proc, reopen_each, text);
      for (size_t off = 0; off < text.size();) {
        ssize_t n = write(out[1], text.data() + off, text.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      _exit(code);
    }
    close(out[1]);
    pids.push_back(pid);
    outs.push_back(out[0]);
  }
  close(go[0]);
  close(go[1]);  // releases the children

  for (int p = 0; p < procs; ++p) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(outs[p], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0);
      text.append(buf, static_cast<size_t>(n));
    }
    close(outs[p]);
    int status = 0;
    ASSERT_EQ(waitpid(pids[p], &status, 0), pids[p]);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << text;
    for (auto& line : Split(text, '\n')) {
      if (!line.empty()) addresses.push_back(line);
    }
  }
}

TEST_F(StateStoreTest, ConcurrentProcessesGetDistinctAddresses) {
  // No SQLite connection may cross fork(): the children open their own.
  store_.reset();
  root_ = dir_ + "/shared";
  std::vector<std::string> addresses;
  LeaseInProcesses(root_, 2, 50, /*reopen_each=*/false, addresses);
  std::set<std::string> distinct(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses.size(), 100u);
  EXPECT_EQ(distinct.size(), addresses.size());
  Reopen();
  EXPECT_EQ(LeasedAddresses("n"), distinct);
}

TEST_F(StateStoreTest, ConcurrentProcessesReopeningGetDistinctAddresses) {
  store_.reset();
  root_ = dir_ + "/shared";
  std::vector<std::string> addresses;
  LeaseInProcesses(root_, 3, 30, /*reopen_each=*/true, addresses);
  std::set<std::string> distinct(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses.size(), 90u);
  EXPECT_EQ(distinct.size(), addresses.size());
  Reopen();
  EXPECT_EQ(LeasedAddresses("n"), distinct);
}

TEST(StateStoreMemoryTest, OpenMemory) {
  auto s = StateStore::OpenMemory();
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE((*s)->Insert(Kind::kNetwork, {"n", "bridge", "{}"}));
  EXPECT_EQ(*(*s)->Lease("n", 1, 3, "x"), "0.0.0.1");
}

}  // namespace
}  // namespace moor::store
