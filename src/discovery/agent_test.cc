// The agent and the registrar over a real catalog and check runner: container
// instances enter the catalog only once their check passes, external
// registrations are validated before anything changes, and the registrar
// follows what runs.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "discovery/agent.h"
#include "discovery/probe_test_servers.h"
#include "discovery/registrar.h"

namespace moor::discovery {
namespace {

using namespace std::chrono_literals;

bool Eventually(const std::function<bool()>& f, std::chrono::milliseconds limit = 3000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

Node TestNode() {
  Node n;
  n.id = "00000000-0000-0000-0000-000000000001";
  n.name = "node1";
  n.address = "127.0.0.1";
  return n;
}

ServiceInstance Instance(const std::string& id, const std::string& name, int port) {
  ServiceInstance s;
  s.id = id;
  s.name = name;
  s.address = "127.0.0.1";
  s.port = port;
  s.container_id = "c-" + id;
  s.container_name = id;
  return s;
}

CheckDef Ttl(const std::string& id) {
  CheckDef d;
  d.id = id;
  d.type = "ttl";
  d.ttl_ns = 60'000'000'000;
  return d;
}

TEST(Agent, ContainerInstanceEntersTheCatalogOnlyWhenItsCheckPasses) {
  Catalog cat(TestNode());
  testing::FakeOps ops;
  Agent agent(cat, &ops);
  agent.AddContainerInstance(Instance("php-1:9000", "php", 9000), {Ttl("service:php-1:9000")});
  EXPECT_FALSE(cat.Instance("php-1:9000"));
  EXPECT_EQ(agent.Pending(), std::vector<std::string>{"php-1:9000"});
  ASSERT_TRUE(agent.UpdateTtl("service:php-1:9000", Health::kWarning, "warming up"));
  EXPECT_FALSE(cat.Instance("php-1:9000")) << "only a pass registers";
  ASSERT_TRUE(agent.UpdateTtl("service:php-1:9000", Health::kPassing, "ready"));
  ASSERT_TRUE(Eventually([&] { return cat.Instance("php-1:9000").has_value(); }));
  EXPECT_EQ(cat.Instance("php-1:9000")->source, "container");
  EXPECT_TRUE(agent.Pending().empty());
  auto usable = cat.Usable("php");
  ASSERT_EQ(usable.size(), 1u);
  // Later results update the catalog's check: critical → not usable, still listed.
  ASSERT_TRUE(agent.UpdateTtl("service:php-1:9000", Health::kCritical, "down"));
  ASSERT_TRUE(Eventually([&] { return cat.Usable("php").empty(); }));
  EXPECT_EQ(cat.Health("php").size(), 1u);
  // Removing the container removes it (and its check) everywhere.
  agent.RemoveContainer("c-php-1:9000");
  EXPECT_FALSE(cat.Instance("php-1:9000"));
  EXPECT_TRUE(cat.Checks().empty());
  EXPECT_EQ(agent.UpdateTtl("service:php-1:9000", Health::kPassing, "").error().errnum(), ENOENT);
}

TEST(Agent, ContainerInstanceWithATcpCheckRegistersWhenThePortAnswers) {
  Catalog cat(TestNode());
  testing::FakeOps ops;
  Agent agent(cat, &ops);
  testing::LoopbackServer server([](UniqueFd) {});
  CheckDef tcp;
  tcp.id = "service:web-1:80";
  tcp.type = "tcp";
  tcp.target = server.addr();
  agent.AddContainerInstance(Instance("web-1:80", "web", 80), {tcp});
  ASSERT_TRUE(Eventually([&] { return cat.Usable("web").size() == 1; }));
}

TEST(Agent, ContainerInstanceWithoutChecksIsRegisteredAtOnce) {
  Catalog cat(TestNode());
  Agent agent(cat, nullptr);
  agent.AddContainerInstance(Instance("w:1", "w", 1), {});
  EXPECT_TRUE(cat.Instance("w:1"));
}

TEST(Agent, ExternalRegistrationIsValidatedBeforeAnythingChanges) {
  Catalog cat(TestNode());
  Agent agent(cat, nullptr);
  ServiceInstance db = Instance("", "db", 5432);
  CheckDef bad;
  bad.type = "tcp";  // no target
  auto r = agent.RegisterService(db, {bad});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_TRUE(cat.Instances().empty());
  EXPECT_TRUE(cat.Checks().empty());

  ServiceInstance upper = Instance("x", "Bad_Name", 1);
  EXPECT_EQ(agent.RegisterService(upper, {}).error().errnum(), EINVAL);

  ASSERT_TRUE(agent.RegisterService(db, {Ttl("")}));
  auto inst = cat.Instance("db");
  ASSERT_TRUE(inst) << "id defaults to the name";
  EXPECT_EQ(inst->source, "external");
  ASSERT_TRUE(cat.Check("service:db"));
  EXPECT_EQ(cat.Check("service:db")->status, Health::kCritical);
  ASSERT_TRUE(agent.UpdateTtl("service:db", Health::kPassing, "ok"));
  ASSERT_TRUE(Eventually([&] { return cat.Usable("db").size() == 1; }));
  ASSERT_TRUE(agent.DeregisterService("db"));
  EXPECT_FALSE(cat.Instance("db"));
  EXPECT_EQ(agent.DeregisterService("db").error().errnum(), ENOENT);
}

TEST(Agent, ContainerInstancesCannotBeTakenOverOrDeregisteredThroughTheApi) {
  Catalog cat(TestNode());
  Agent agent(cat, nullptr);
  agent.AddContainerInstance(Instance("w:1", "w", 1), {});
  EXPECT_EQ(agent.DeregisterService("w:1").error().errnum(), EPERM);
  EXPECT_EQ(agent.RegisterService(Instance("w:1", "w", 2), {}).error().errnum(), EPERM);
  EXPECT_EQ(cat.Instance("w:1")->port, 1);
}

// A lister whose containers the test sets.
class FakeLister : public ContainerLister {
 public:
  std::vector<ContainerInfo> List() override {
    std::lock_guard lock(mu);
    return all;
  }
  std::optional<ContainerInfo> Get(const std::string& id) override {
    std::lock_guard lock(mu);
    for (const auto& c : all) {
      if (c.id == id) return c;
    }
    return std::nullopt;
  }
  std::mutex mu;
  std::vector<ContainerInfo> all;
};

ContainerInfo Running(const std::string& id, const std::string& ip, int port) {
  ContainerInfo c;
  c.id = id;
  c.name = "php-" + id;
  c.image_ref = "php-fpm:8.2";
  c.labels = {{"moor.service", "php"}, {"moor.check", "none"}, {"moor.service.drain", "200ms"}};
  c.ip = ip;
  c.tcp_ports = {port};
  c.status = "running";
  return c;
}

TEST(Registrar, ReconcileFollowsWhatRunsWithoutDuplicates) {
  Catalog cat(TestNode());
  Agent agent(cat, nullptr);
  FakeLister lister;
  Registrar reg(agent, nullptr, lister, "10.89.0.1");
  lister.all = {Running("a", "10.89.0.2", 9000), Running("b", "10.89.0.3", 9000)};
  reg.Reconcile();
  EXPECT_EQ(cat.Usable("php").size(), 2u);
  EXPECT_EQ(cat.Containers().size(), 2u);
  uint64_t idx = cat.ServiceIndex("php");
  reg.Reconcile();  // nothing changed: no index bump
  EXPECT_EQ(cat.ServiceIndex("php"), idx);

  // b vanished without an event (removed while the daemon was down).
  lister.all.pop_back();
  reg.Reconcile();
  ASSERT_EQ(cat.Usable("php").size(), 1u);
  EXPECT_EQ(cat.Usable("php")[0].address, "10.89.0.2");
  EXPECT_FALSE(cat.ContainerByName("php-b"));

  // a restarted on a new IP.
  lister.all[0].ip = "10.89.0.9";
  reg.Up(lister.all[0]);
  ASSERT_EQ(cat.Usable("php").size(), 1u);
  EXPECT_EQ(cat.Usable("php")[0].address, "10.89.0.9");

  // Paused: out.
  lister.all[0].status = "paused";
  reg.Up(lister.all[0]);
  EXPECT_TRUE(cat.Usable("php").empty());
}

TEST(Registrar, BeforeStopDeregistersFirstThenDrains) {
  Catalog cat(TestNode());
  Agent agent(cat, nullptr);
  FakeLister lister;
  Registrar reg(agent, nullptr, lister, "10.89.0.1");
  lister.all = {Running("a", "10.89.0.2", 9000)};
  reg.Reconcile();
  ASSERT_EQ(cat.Usable("php").size(), 1u);
  // When the instance leaves the catalog (watchers run in the changing thread):
  // deregistration first, then the drain, with no race against a sleeping thread.
  std::atomic<int64_t> gone_at_ns{0};
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  int h = cat.Watch([&](uint64_t) {
    if (gone_at_ns.load() == 0 && cat.Usable("php").empty()) gone_at_ns = now_ns();
  });
  auto t0 = std::chrono::steady_clock::now();
  reg.BeforeStop("a");
  auto took = std::chrono::steady_clock::now() - t0;
  int64_t returned_ns = now_ns();
  cat.Unwatch(h);
  ASSERT_NE(gone_at_ns.load(), 0) << "not deregistered";
  EXPECT_GE(returned_ns - gone_at_ns.load(), 190'000'000) << "no drain after the deregistration";
  EXPECT_GE(took, 190ms);
  // No drain for kill / rm -f, and none for unknown containers (a drain here would take 5 s).
  auto b = Running("b", "10.89.0.3", 9000);
  b.labels["moor.service.drain"] = "5s";
  lister.all = {b};
  reg.Reconcile();
  t0 = std::chrono::steady_clock::now();
  reg.BeforeStop("b", /*drain=*/false);
  reg.BeforeStop("nope");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
  EXPECT_TRUE(cat.Usable("php").empty());
}

TEST(Registrar, DockerCheckFollowsTheContainersHealth) {
  Catalog cat(TestNode());
  Agent agent(cat, nullptr);
  FakeLister lister;
  Registrar reg(agent, nullptr, lister, "10.89.0.1");
  auto c = Running("a", "10.89.0.2", 80);
  c.labels.erase("moor.check");
  c.has_healthcheck = true;
  c.health = "starting";
  lister.all = {c};
  reg.Reconcile();
  EXPECT_FALSE(cat.Instance("php-a:80"));
  reg.Health("a", "healthy");
  ASSERT_TRUE(cat.Instance("php-a:80"));
  EXPECT_EQ(cat.Usable("php").size(), 1u);
  reg.Health("a", "unhealthy");
  EXPECT_TRUE(cat.Usable("php").empty());
  // After a daemon restart a container that is already healthy is registered at once.
  Catalog cat2(TestNode());
  Agent agent2(cat2, nullptr);
  Registrar reg2(agent2, nullptr, lister, "10.89.0.1");
  lister.all[0].health = "healthy";
  reg2.Reconcile();
  EXPECT_EQ(cat2.Usable("php").size(), 1u);
}

}  // namespace
}  // namespace moor::discovery
