#include "discovery/catalog.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "common/file.h"
#include "discovery/catalog_internal.h"

namespace moor::discovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

Node TestNode() {
  Node n;
  n.id = "00000000-0000-0000-0000-000000000001";
  n.name = "node1";
  n.address = "127.0.0.1";
  return n;
}

ServiceInstance Svc(const std::string& id, const std::string& name, std::vector<std::string> tags = {},
                    const std::string& source = "external") {
  ServiceInstance s;
  s.id = id;
  s.name = name;
  s.tags = std::move(tags);
  s.address = "10.89.0.5";
  s.port = 9000;
  s.source = source;
  if (source == "container") {
    s.container_id = "c-" + id;
    s.container_name = id;
  }
  return s;
}

CheckDef Chk(const std::string& id, Health initial = Health::kCritical) {
  CheckDef d;
  d.id = id;
  d.name = "check " + id;
  d.type = "ttl";
  d.ttl_ns = 30'000'000'000;
  d.initial = initial;
  return d;
}

class CatalogTest : public ::testing::Test {
 protected:
  Catalog cat_{TestNode()};
};

TEST_F(CatalogTest, IndexesStartAtOne) {
  EXPECT_EQ(cat_.Index(), 1u);
  EXPECT_EQ(cat_.ServicesIndex(), 1u);
  EXPECT_EQ(cat_.ServiceIndex("nope"), 1u);
  EXPECT_EQ(cat_.ChecksIndex(), 1u);
  EXPECT_EQ(cat_.NodesIndex(), 1u);
  EXPECT_EQ(cat_.KvIndex("x", false), 1u);
  EXPECT_EQ(cat_.KvIndex("", true), 1u);
  EXPECT_EQ(cat_.node().name, "node1");
}

TEST_F(CatalogTest, RegisterDeregisterBumpsIndexes) {
  ASSERT_TRUE(cat_.Register(Svc("web1", "web", {"v1"}), {Chk("c1", Health::kPassing)}));
  const uint64_t i1 = cat_.Index();
  EXPECT_GT(i1, 1u);
  EXPECT_EQ(cat_.ServicesIndex(), i1);
  EXPECT_EQ(cat_.ServiceIndex("web"), i1);
  EXPECT_EQ(cat_.ChecksIndex(), i1);
  auto inst = cat_.Instance("web1");
  ASSERT_TRUE(inst);
  EXPECT_EQ(inst->create_index, i1);
  EXPECT_EQ(inst->modify_index, i1);
  EXPECT_EQ(cat_.Check("c1")->service_name, "web");

  // Identical re-registration (the registrar's reconcile) is a no-op.
  ASSERT_TRUE(cat_.Register(Svc("web1", "web", {"v1"}), {Chk("c1", Health::kPassing)}));
  EXPECT_EQ(cat_.Index(), i1);

  // A change of address only: service index moves, the services set does not.
  auto moved = Svc("web1", "web", {"v1"});
  moved.address = "10.89.0.6";
  ASSERT_TRUE(cat_.Register(moved, {Chk("c1", Health::kPassing)}));
  const uint64_t i2 = cat_.Index();
  EXPECT_GT(i2, i1);
  EXPECT_EQ(cat_.ServiceIndex("web"), i2);
  EXPECT_EQ(cat_.ServicesIndex(), i1);
  EXPECT_EQ(cat_.Instance("web1")->create_index, i1);
  EXPECT_EQ(cat_.Instance("web1")->modify_index, i2);

  ASSERT_TRUE(cat_.Deregister("web1"));
  const uint64_t i3 = cat_.Index();
  EXPECT_GT(i3, i2);
  EXPECT_EQ(cat_.ServicesIndex(), i3);
  EXPECT_EQ(cat_.ServiceIndex("web"), i3);  // kept after the last instance went
  EXPECT_FALSE(cat_.Instance("web1"));
  EXPECT_FALSE(cat_.Check("c1"));

  auto r = cat_.Deregister("web1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
}

TEST_F(CatalogTest, RegisterValidates) {
  EXPECT_EQ(cat_.Register(Svc("", "web"), {}).error().errnum(), EINVAL);
  EXPECT_EQ(cat_.Register(Svc("a", ""), {}).error().errnum(), EINVAL);
  auto bad = Svc("a", "web");
  bad.port = 70000;
  EXPECT_EQ(cat_.Register(bad, {}).error().errnum(), EINVAL);
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {Chk("shared")}));
  auto r = cat_.Register(Svc("b", "web"), {Chk("shared")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_NE(r.error().message().find("\"shared\""), std::string::npos) << r.error().message();
  EXPECT_FALSE(cat_.Register(Svc("b", "web"), {Chk("x"), Chk("x")}));
  EXPECT_FALSE(cat_.Instance("b"));
}

TEST_F(CatalogTest, ReRegisterKeepsOrResetsCheckStatus) {
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {Chk("c1"), Chk("c2")}));
  ASSERT_TRUE(cat_.UpdateCheck("c1", Health::kPassing, "ok"));
  // c2 dropped, c1 kept with its status.
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {Chk("c1")}));
  EXPECT_EQ(cat_.Check("c1")->status, Health::kPassing);
  EXPECT_EQ(cat_.Check("c1")->output, "ok");
  EXPECT_FALSE(cat_.Check("c2"));
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {Chk("c1")}, /*reset_checks=*/true));
  EXPECT_EQ(cat_.Check("c1")->status, Health::kCritical);
  EXPECT_EQ(cat_.Check("c1")->output, "");
}

TEST_F(CatalogTest, RenameTouchesBothNames) {
  ASSERT_TRUE(cat_.Register(Svc("a", "old"), {}));
  ASSERT_TRUE(cat_.Register(Svc("a", "new"), {}));
  EXPECT_EQ(cat_.ServiceIndex("old"), cat_.Index());
  EXPECT_EQ(cat_.ServiceIndex("new"), cat_.Index());
  EXPECT_EQ(cat_.ServiceNames().count("old"), 0u);
}

TEST_F(CatalogTest, HealthAggregationAndFilters) {
  ASSERT_TRUE(cat_.Register(Svc("w1", "web", {"blue"}), {Chk("w1a", Health::kPassing), Chk("w1b", Health::kPassing)}));
  ASSERT_TRUE(cat_.Register(Svc("w2", "web", {"green"}), {Chk("w2a", Health::kPassing), Chk("w2b", Health::kPassing)}));
  ASSERT_TRUE(cat_.Register(Svc("w3", "web", {"blue", "canary"}), {}));  // no checks: passing
  ASSERT_TRUE(cat_.Register(Svc("d1", "db"), {Chk("d1a")}));

  ASSERT_TRUE(cat_.UpdateCheck("w1b", Health::kWarning, "slow"));
  ASSERT_TRUE(cat_.UpdateCheck("w2a", Health::kCritical, "down"));
  ASSERT_TRUE(cat_.UpdateCheck("w2b", Health::kWarning, "slow"));

  auto all = cat_.Health("web");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].service.id, "w1");
  EXPECT_EQ(all[0].health, Health::kWarning);
  EXPECT_EQ(all[0].checks.size(), 2u);
  EXPECT_EQ(all[1].health, Health::kCritical);
  EXPECT_EQ(all[2].health, Health::kPassing);

  auto passing = cat_.Health("web", "", true);
  ASSERT_EQ(passing.size(), 1u);
  EXPECT_EQ(passing[0].service.id, "w3");

  auto blue = cat_.Health("web", "blue");
  ASSERT_EQ(blue.size(), 2u);

  auto usable = cat_.Usable("web");
  ASSERT_EQ(usable.size(), 2u);
  EXPECT_EQ(usable[0].id, "w1");
  EXPECT_EQ(usable[1].id, "w3");
  ASSERT_EQ(cat_.Usable("web", "canary").size(), 1u);
  EXPECT_TRUE(cat_.Usable("db").empty());
  EXPECT_TRUE(cat_.Usable("nope").empty());

  auto names = cat_.ServiceNames();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names["web"], (std::vector<std::string>{"blue", "canary", "green"}));

  auto inst = cat_.Instances();
  ASSERT_EQ(inst.size(), 4u);
  EXPECT_EQ(inst[0].id, "d1");
  EXPECT_EQ(inst[1].id, "w1");
  EXPECT_EQ(cat_.Checks().size(), 5u);
  EXPECT_EQ(cat_.Checks()[0].def.id, "d1a");
}

TEST_F(CatalogTest, NodeChecksCountForEveryInstance) {
  ASSERT_TRUE(cat_.Register(Svc("w1", "web"), {}));
  ASSERT_TRUE(cat_.AddCheck("", Chk("node:disk", Health::kPassing)));
  EXPECT_EQ(cat_.Usable("web").size(), 1u);
  ASSERT_TRUE(cat_.UpdateCheck("node:disk", Health::kCritical, "full"));
  EXPECT_EQ(cat_.ServiceIndex("web"), cat_.Index());
  EXPECT_EQ(cat_.NodesIndex(), cat_.Index());
  EXPECT_TRUE(cat_.Usable("web").empty());
  EXPECT_EQ(cat_.Health("web")[0].checks.size(), 1u);
}

TEST_F(CatalogTest, AddUpdateRemoveCheck) {
  EXPECT_EQ(cat_.AddCheck("missing", Chk("x")).error().errnum(), ENOENT);
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {}));
  ASSERT_TRUE(cat_.AddCheck("a", Chk("x")));
  const uint64_t i = cat_.Index();
  ASSERT_TRUE(cat_.AddCheck("a", Chk("x")));  // same definition: no change
  EXPECT_EQ(cat_.Index(), i);
  ASSERT_TRUE(cat_.Register(Svc("b", "web"), {}));
  EXPECT_EQ(cat_.AddCheck("b", Chk("x")).error().errnum(), EINVAL);

  ASSERT_TRUE(cat_.UpdateCheck("x", Health::kPassing, "fine"));
  const uint64_t j = cat_.Index();
  EXPECT_EQ(cat_.Check("x")->modify_index, j);
  EXPECT_EQ(cat_.Check("x")->critical_since_ns, 0);
  ASSERT_TRUE(cat_.UpdateCheck("x", Health::kPassing, "fine"));  // unchanged
  EXPECT_EQ(cat_.Index(), j);
  ASSERT_TRUE(cat_.UpdateCheck("x", Health::kCritical, "gone"));
  EXPECT_GT(cat_.Check("x")->critical_since_ns, 0);
  EXPECT_EQ(cat_.UpdateCheck("nope", Health::kPassing, "").error().errnum(), ENOENT);

  ASSERT_TRUE(cat_.RemoveCheck("x"));
  EXPECT_FALSE(cat_.Check("x"));
  EXPECT_EQ(cat_.RemoveCheck("x").error().errnum(), ENOENT);
}

TEST_F(CatalogTest, ReapCritical) {
  auto d = Chk("c");
  d.deregister_critical_after_ns = 1'000'000'000;
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {d}));
  ASSERT_TRUE(cat_.Register(Svc("b", "web"), {Chk("nolimit")}));
  const int64_t since = cat_.Check("c")->critical_since_ns;
  ASSERT_GT(since, 0);
  EXPECT_TRUE(cat_.ReapCritical(since + 500'000'000).empty());
  EXPECT_EQ(cat_.ReapCritical(since + 2'000'000'000), (std::vector<std::string>{"a"}));
  EXPECT_FALSE(cat_.Instance("a"));
  EXPECT_TRUE(cat_.Instance("b"));
  // Passing again resets the clock.
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {d}));
  ASSERT_TRUE(cat_.UpdateCheck("c", Health::kPassing, ""));
  EXPECT_TRUE(cat_.ReapCritical(since + 100'000'000'000).empty());
}

TEST_F(CatalogTest, DeregisterContainer) {
  ASSERT_TRUE(cat_.Register(Svc("app:80", "web", {}, "container"), {}));
  auto second = Svc("app:9000", "php", {}, "container");
  second.container_id = "c-app:80";
  ASSERT_TRUE(cat_.Register(second, {Chk("php")}));
  ASSERT_TRUE(cat_.Register(Svc("ext", "web"), {}));
  const uint64_t before = cat_.Index();
  EXPECT_TRUE(cat_.DeregisterContainer("unknown").empty());
  EXPECT_EQ(cat_.Index(), before);
  auto ids = cat_.DeregisterContainer("c-app:80");
  EXPECT_EQ(ids, (std::vector<std::string>{"app:80", "app:9000"}));
  EXPECT_FALSE(cat_.Check("php"));
  EXPECT_EQ(cat_.Instances().size(), 1u);
}

TEST_F(CatalogTest, Containers) {
  cat_.SetContainer({"id1", "/web", "10.89.0.2"});
  const uint64_t i = cat_.Index();
  EXPECT_EQ(i, 2u);
  cat_.SetContainer({"id1", "web", "10.89.0.2"});  // unchanged
  EXPECT_EQ(cat_.Index(), i);
  cat_.SetContainer({"id2", "db", "10.89.0.3"});
  EXPECT_EQ(cat_.ContainerByName("web")->id, "id1");
  EXPECT_EQ(cat_.ContainerByIp("10.89.0.3")->name, "db");
  EXPECT_FALSE(cat_.ContainerByIp("10.89.0.9"));
  auto all = cat_.Containers();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "db");
  const uint64_t j = cat_.Index();
  cat_.RemoveContainer("nope");
  EXPECT_EQ(cat_.Index(), j);
  cat_.RemoveContainer("id1");
  EXPECT_GT(cat_.Index(), j);
  EXPECT_FALSE(cat_.ContainerByName("web"));
  EXPECT_EQ(cat_.ServicesIndex(), 1u);
}

TEST_F(CatalogTest, KvPutGetList) {
  ASSERT_TRUE(*cat_.KvPut("/app/a", "1", 7));
  ASSERT_TRUE(*cat_.KvPut("app/b", "2", 0));
  ASSERT_TRUE(*cat_.KvPut("other", "3", 0));
  auto a = cat_.KvGet("app/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, "1");
  EXPECT_EQ(a->flags, 7u);
  EXPECT_EQ(a->create_index, a->modify_index);
  EXPECT_TRUE(cat_.KvGet("/app/a"));
  auto list = cat_.KvList("app/");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].key, "app/b");
  EXPECT_EQ(cat_.KvList("").size(), 3u);
  ASSERT_TRUE(*cat_.KvPut("app/a", "one", 0));
  a = cat_.KvGet("app/a");
  EXPECT_GT(a->modify_index, a->create_index);
  EXPECT_EQ(cat_.KvIndex("app/a", false), a->modify_index);
  EXPECT_EQ(cat_.KvIndex("app/", true), a->modify_index);

  EXPECT_EQ(cat_.KvPut("", "x", 0).error().errnum(), EINVAL);
  EXPECT_EQ(cat_.KvPut("/", "x", 0).error().errnum(), EINVAL);
  auto big = cat_.KvPut("big", std::string(512 * 1024 + 1, 'x'), 0);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message().find("value too large (524289 bytes; limit 512 KiB)"), std::string::npos);
  EXPECT_TRUE(*cat_.KvPut("big", std::string(512 * 1024, 'x'), 0));
}

TEST_F(CatalogTest, KvCas) {
  EXPECT_TRUE(*cat_.KvPut("k", "v1", 0, 0));   // create-only on a missing key
  EXPECT_FALSE(*cat_.KvPut("k", "v2", 0, 0));  // exists now
  const uint64_t mi = cat_.KvGet("k")->modify_index;
  EXPECT_FALSE(*cat_.KvPut("k", "v2", 0, mi + 100));
  EXPECT_EQ(cat_.KvGet("k")->value, "v1");
  EXPECT_TRUE(*cat_.KvPut("k", "v2", 0, mi));
  EXPECT_FALSE(*cat_.KvPut("missing", "v", 0, 5));
  const uint64_t mi2 = cat_.KvGet("k")->modify_index;
  EXPECT_FALSE(*cat_.KvDelete("k", false, mi));
  EXPECT_TRUE(cat_.KvGet("k"));
  EXPECT_TRUE(*cat_.KvDelete("k", false, mi2));
  EXPECT_FALSE(cat_.KvGet("k"));
  EXPECT_EQ(cat_.KvDelete("k", true, 3).error().errnum(), EINVAL);
}

TEST_F(CatalogTest, KvDeleteRecurseAndTombstones) {
  ASSERT_TRUE(*cat_.KvPut("a/1", "x", 0));
  ASSERT_TRUE(*cat_.KvPut("a/2", "x", 0));
  ASSERT_TRUE(*cat_.KvPut("b/1", "x", 0));
  const uint64_t before = cat_.Index();
  EXPECT_TRUE(*cat_.KvDelete("nothing", false));  // missing key: success, no change
  EXPECT_EQ(cat_.Index(), before);
  ASSERT_TRUE(*cat_.KvDelete("a/", true));
  const uint64_t del = cat_.Index();
  EXPECT_GT(del, before);
  EXPECT_TRUE(cat_.KvList("a/").empty());
  EXPECT_EQ(cat_.KvList("").size(), 1u);
  EXPECT_EQ(cat_.KvIndex("a/", true), del);     // deletions count
  EXPECT_EQ(cat_.KvIndex("a/1", false), del);
  EXPECT_LT(cat_.KvIndex("b/", true), del);
  ASSERT_TRUE(*cat_.KvPut("a/1", "back", 0));
  EXPECT_GT(cat_.KvIndex("a/1", false), del);
}

TEST_F(CatalogTest, TombstonesAreCappedWithoutLosingWakeups) {
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(*cat_.KvPut("t/" + std::to_string(i), "x", 0));
    ASSERT_TRUE(*cat_.KvDelete("t/" + std::to_string(i), false));
  }
  const uint64_t last = cat_.Index();
  EXPECT_EQ(cat_.KvIndex("t/", true), last);
  // A dropped tombstone answers at least the floor (≥ its own index).
  EXPECT_GE(cat_.KvIndex("t/0", false), 2u);
  EXPECT_LE(cat_.KvIndex("t/0", false), last);
}

TEST_F(CatalogTest, WaitForWakesOnChange) {
  const uint64_t idx = cat_.ServiceIndex("web");
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    ASSERT_TRUE(cat_.Register(Svc("w", "web"), {}));
  });
  const auto start = steady_clock::now();
  uint64_t got = cat_.WaitFor([&] { return cat_.ServiceIndex("web"); }, idx, start + std::chrono::seconds(10));
  t.join();
  EXPECT_GT(got, idx);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CatalogTest, WaitForIgnoresUnrelatedChangesAndTimesOut) {
  const uint64_t idx = cat_.ServiceIndex("web");
  ASSERT_TRUE(*cat_.KvPut("unrelated", "x", 0));
  const auto start = steady_clock::now();
  uint64_t got = cat_.WaitFor([&] { return cat_.ServiceIndex("web"); }, idx, start + milliseconds(300));
  EXPECT_EQ(got, idx);
  EXPECT_GE(steady_clock::now() - start, milliseconds(300));
}

TEST_F(CatalogTest, WaitForReturnsAtOnceWhenAlreadyNewer) {
  ASSERT_TRUE(*cat_.KvPut("k", "x", 0));
  const auto start = steady_clock::now();
  EXPECT_EQ(cat_.WaitFor([&] { return cat_.Index(); }, 0, start + std::chrono::seconds(10)), cat_.Index());
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));  // vs. the 10 s deadline
}

TEST_F(CatalogTest, WaitForCancelled) {
  std::atomic<bool> cancel{false};
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel = true;
  });
  const auto start = steady_clock::now();
  cat_.WaitFor([&] { return cat_.Index(); }, cat_.Index(), start + std::chrono::seconds(30), [&] { return cancel.load(); });
  t.join();
  // Noticed within one 200 ms slice (generous bound, far below the 30 s deadline).
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CatalogTest, WatchersSeeIncreasingIndexesAndMayReadTheCatalog) {
  std::vector<uint64_t> seen;
  size_t instances_seen = 0;
  int h = cat_.Watch([&](uint64_t i) {
    seen.push_back(i);
    instances_seen = cat_.Instances().size();  // must not deadlock
  });
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {}));
  ASSERT_TRUE(*cat_.KvPut("k", "v", 0));
  ASSERT_TRUE(cat_.Register(Svc("a", "web"), {}));  // no change: no call
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_LT(seen[0], seen[1]);
  EXPECT_EQ(seen[1], cat_.Index());
  EXPECT_EQ(instances_seen, 1u);
  cat_.Unwatch(h);
  ASSERT_TRUE(*cat_.KvPut("k", "v2", 0));
  EXPECT_EQ(seen.size(), 2u);
}

TEST_F(CatalogTest, WatcherMayUnwatchItself) {
  int calls = 0;
  int h = 0;
  h = cat_.Watch([&](uint64_t) {
    ++calls;
    cat_.Unwatch(h);
  });
  ASSERT_TRUE(*cat_.KvPut("k", "v", 0));
  ASSERT_TRUE(*cat_.KvPut("k", "v2", 0));
  EXPECT_EQ(calls, 1);
}

TEST_F(CatalogTest, ConcurrencySmoke) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> watched{0};
  int h = cat_.Watch([&](uint64_t i) {
    uint64_t prev = watched.load();
    EXPECT_GT(i, prev);  // serialised, increasing
    watched = i;
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 200; ++i) {
        const std::string id = "s" + std::to_string(w) + "-" + std::to_string(i % 10);
        ASSERT_TRUE(cat_.Register(Svc(id, "web", {"t" + std::to_string(i % 3)}), {Chk("c-" + id)}));
        ASSERT_TRUE(cat_.UpdateCheck("c-" + id, i % 2 ? Health::kPassing : Health::kWarning, ""));
        ASSERT_TRUE(*cat_.KvPut("k/" + std::to_string(w), std::to_string(i), 0));
        if (i % 7 == 0) {
          ASSERT_TRUE(cat_.Deregister(id));
        }
      }
    });
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!stop) {
        uint64_t i = cat_.Index();
        EXPECT_GE(i, last);
        last = i;
        for (const auto& ih : cat_.Health("web")) EXPECT_LE(ih.checks.size(), 1u);
        cat_.Usable("web", "t1");
        cat_.KvList("k/");
        cat_.WaitFor([&] { return cat_.Index(); }, i, steady_clock::now() + milliseconds(5));
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  cat_.Unwatch(h);
  EXPECT_EQ(watched.load(), cat_.Index());
}

// ---- persistence -------------------------------------------------------------

class CatalogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-catalog-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/discovery.db";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_)); }
  std::string dir_, path_;
};

TEST_F(CatalogStoreTest, RoundTrip) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  binary += std::string("\0\0tail\xff", 7);
  uint64_t last_index = 0;
  {
    Catalog cat(TestNode());
    ASSERT_TRUE(cat.AttachStore(path_));
    auto ext = Svc("ext1", "api", {"v2"});
    ext.meta["owner"] = "ops";
    auto hc = Chk("ext1:http");
    hc.type = "http";
    hc.target = "http://10.89.0.5:9000/health";
    hc.headers["X-A"] = "b";
    hc.args = {"sh", "-c", "true"};
    hc.deregister_critical_after_ns = 60'000'000'000;
    ASSERT_TRUE(cat.Register(ext, {hc}));
    ASSERT_TRUE(cat.UpdateCheck("ext1:http", Health::kWarning, "slowish"));
    ASSERT_TRUE(cat.Register(Svc("gone", "api"), {Chk("gone:c")}));
    ASSERT_TRUE(cat.Deregister("gone"));
    ASSERT_TRUE(cat.Register(Svc("app:80", "web", {}, "container"), {Chk("app:c", Health::kPassing)}));
    ASSERT_TRUE(cat.AddCheck("", Chk("node:ttl", Health::kPassing)));
    ASSERT_TRUE(*cat.KvPut("cfg/bin", binary, 42));
    ASSERT_TRUE(*cat.KvPut("cfg/text", "hello", 0));
    ASSERT_TRUE(*cat.KvPut("cfg/tmp", "x", 0));
    ASSERT_TRUE(*cat.KvDelete("cfg/tmp", false));
    cat.SetContainer({"cid", "app", "10.89.0.7"});
    last_index = cat.Index();
  }
  Catalog cat(TestNode());
  ASSERT_TRUE(cat.AttachStore(path_));
  EXPECT_GE(cat.Index(), last_index);  // never backwards
  auto ext = cat.Instance("ext1");
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->tags, (std::vector<std::string>{"v2"}));
  EXPECT_EQ(ext->meta.at("owner"), "ops");
  EXPECT_FALSE(cat.Instance("gone"));
  EXPECT_FALSE(cat.Check("gone:c"));
  EXPECT_FALSE(cat.Instance("app:80"));  // container instances are rebuilt, not stored
  EXPECT_FALSE(cat.Check("app:c"));
  EXPECT_TRUE(cat.Containers().empty());
  auto c = cat.Check("ext1:http");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, Health::kWarning);
  EXPECT_EQ(c->output, "slowish");
  EXPECT_EQ(c->service_name, "api");
  EXPECT_EQ(c->def.target, "http://10.89.0.5:9000/health");
  EXPECT_EQ(c->def.headers.at("X-A"), "b");
  EXPECT_EQ(c->def.args.size(), 3u);
  EXPECT_EQ(c->def.deregister_critical_after_ns, 60'000'000'000);
  EXPECT_TRUE(cat.Check("node:ttl"));
  auto bin = cat.KvGet("cfg/bin");
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->value, binary);
  EXPECT_EQ(bin->flags, 42u);
  EXPECT_EQ(cat.KvGet("cfg/text")->value, "hello");
  EXPECT_FALSE(cat.KvGet("cfg/tmp"));

  // The same registration after the restart is still a no-op.
  const uint64_t i = cat.Index();
  auto again = Svc("ext1", "api", {"v2"});
  again.meta["owner"] = "ops";
  auto hc = c->def;
  ASSERT_TRUE(cat.Register(again, {hc}));
  EXPECT_EQ(cat.Index(), i);

  // New changes take indexes above everything seen before, and survive the next restart.
  ASSERT_TRUE(*cat.KvPut("cfg/text", "again", 0));
  const uint64_t after = cat.Index();
  EXPECT_GT(after, last_index);
  ASSERT_TRUE(cat.Deregister("ext1"));
  ASSERT_TRUE(cat.RemoveCheck("node:ttl"));
  {
    Catalog third(TestNode());
    ASSERT_TRUE(third.AttachStore(path_));
    EXPECT_GE(third.Index(), cat.Index());
    EXPECT_FALSE(third.Instance("ext1"));
    EXPECT_FALSE(third.Check("ext1:http"));
    EXPECT_FALSE(third.Check("node:ttl"));
    EXPECT_EQ(third.KvGet("cfg/text")->value, "again");
    EXPECT_EQ(third.KvGet("cfg/text")->modify_index, after);
  }
}

TEST_F(CatalogStoreTest, UnopenablePathFails) {
  Catalog cat(TestNode());
  auto r = cat.AttachStore(dir_ + "/no/such/dir/x.db");
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace moor::discovery
