#include "engine/fpm_metrics.h"

#include <gtest/gtest.h>

#include <chrono>

#include "discovery/probe_test_servers.h"

namespace moor::engine {
namespace {

using discovery::ContainerInfo;
namespace dt = discovery::testing;

constexpr const char* kPage =
    R"({"pool":"www","process manager":"static","start since":60,"accepted conn":42,"listen queue":1,)"
    R"("max listen queue":3,"listen queue len":511,"idle processes":2,"active processes":3,"total processes":5,)"
    R"("max active processes":5,"max children reached":6,"slow requests":7})";

ContainerInfo Php(std::map<std::string, std::string> labels, const std::string& ip = "10.89.0.7") {
  ContainerInfo c;
  c.id = "0123456789abcdef0123";
  c.name = "shop-php-1";
  c.image_ref = "moor/php-fpm:8.2";
  c.ip = ip;
  c.status = "running";
  c.tcp_ports = {9000};
  c.labels = std::move(labels);
  return c;
}

TEST(FpmLabel, Forms) {
  auto a = ParseFpmLabel("/status");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->off);
  EXPECT_EQ(a->port, 0);
  EXPECT_EQ(a->path, "/status");
  auto b = ParseFpmLabel("9001:/fpm/status");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 9001);
  EXPECT_EQ(b->path, "/fpm/status");
  for (const char* off : {"off", "false", "none", " off "}) {
    auto o = ParseFpmLabel(off);
    ASSERT_TRUE(o) << off;
    EXPECT_TRUE(o->off) << off;
  }
  for (const char* bad : {"", "status", "/", "0:/status", "70000:/status", "x:/status", "9000", "/st atus",
                          "/status?json", ":/status"}) {
    auto r = ParseFpmLabel(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("moor.metrics.fpm"), std::string::npos);
    EXPECT_NE(r.error().message().find("PORT:/PATH"), std::string::npos);
  }
}

TEST(FpmTarget, DefaultOnForFastCgiChecks) {
  auto t = FpmTargetFor(Php({{"moor.check", "fastcgi:/ping"},
                             {"moor.service", "php"},
                             {"moor.service.port", "9000"},
                             {"moor.app", "shop"},
                             {"moor.app.service", "php"},
                             {"moor.release", "12"}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->address, "10.89.0.7:9000");
  EXPECT_EQ(t->path, "/status");
  EXPECT_EQ(t->container, "shop-php-1");
  EXPECT_EQ(t->app, "shop");
  EXPECT_EQ(t->service, "php");
  EXPECT_EQ(t->release, "12");
  // The check's own port (moor.check.port) is where php-fpm listens.
  auto p = FpmTargetFor(Php({{"moor.check", "fastcgi:/ping"}, {"moor.check.port", "9009"}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address, "10.89.0.7:9009");
  // Other checks: not a pool unless the label says so.
  EXPECT_FALSE(FpmTargetFor(Php({{"moor.check", "tcp"}})));
  EXPECT_FALSE(FpmTargetFor(Php({})));
}

TEST(FpmTarget, LabelChoosesPathPortOrOff) {
  auto path = FpmTargetFor(Php({{"moor.check", "fastcgi:/ping"}, {"moor.metrics.fpm", "/fpm-status"}}));
  ASSERT_TRUE(path);
  EXPECT_EQ(path->address, "10.89.0.7:9000");
  EXPECT_EQ(path->path, "/fpm-status");
  auto port = FpmTargetFor(Php({{"moor.check", "tcp"}, {"moor.metrics.fpm", "9001:/status"}}));
  ASSERT_TRUE(port);
  EXPECT_EQ(port->address, "10.89.0.7:9001");
  // No fastcgi check: the service's port.
  auto svc = FpmTargetFor(Php({{"moor.check", "http:/"}, {"moor.metrics.fpm", "/status"}}));
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->address, "10.89.0.7:9000");
  EXPECT_FALSE(FpmTargetFor(Php({{"moor.check", "fastcgi:/ping"}, {"moor.metrics.fpm", "off"}})));
  std::string warning;
  EXPECT_FALSE(FpmTargetFor(Php({{"moor.check", "fastcgi:/ping"}, {"moor.metrics.fpm", "status"}}), &warning));
  EXPECT_NE(warning.find("shop-php-1"), std::string::npos) << warning;
  // Host networking: loopback. No network at all: nothing to scrape.
  auto host = Php({{"moor.check", "fastcgi:/ping"}}, "");
  host.host_network = true;
  auto h = FpmTargetFor(host);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->address, "127.0.0.1:9000");
  EXPECT_FALSE(FpmTargetFor(Php({{"moor.check", "fastcgi:/ping"}}, "")));
  auto stopped = Php({{"moor.check", "fastcgi:/ping"}});
  stopped.status = "exited";
  EXPECT_FALSE(FpmTargetFor(stopped));
}

// Records what a collector writes.
struct Recorder : metrics::SampleWriter {
  struct Fam {
    std::string name, type;
    std::vector<std::pair<metrics::Labels, double>> samples;
  };
  std::vector<Fam> fams;
  void Family(std::string_view name, std::string_view type, std::string_view) override {
    fams.push_back({std::string(name), std::string(type), {}});
  }
  void Sample(const metrics::Labels& l, double v) override { fams.back().samples.emplace_back(l, v); }
  const Fam* Find(const std::string& name) const {
    for (const auto& f : fams)
      if (f.name == name) return &f;
    return nullptr;
  }
};

TEST(FpmMetrics, WritesEverySeriesAndUpZero) {
  std::vector<FpmResult> results;
  FpmTarget up{"shop-php-1", "id1", "shop", "php", "12", "10.0.0.1:9000", "/status"};
  FpmTarget down{"shop-php-2", "id2", "shop", "php", "12", "10.0.0.2:9000", "/status"};
  results.push_back({up, discovery::ParseFpmStatus(kPage)});
  results.push_back({down, FailInvalid("refused")});
  Recorder w;
  WriteFpmMetrics(w, results);
  ASSERT_EQ(w.fams.size(), 9u);
  const auto* upf = w.Find("moor_phpfpm_up");
  ASSERT_TRUE(upf);
  ASSERT_EQ(upf->samples.size(), 2u);
  EXPECT_EQ(upf->samples[0].first, (metrics::Labels{{"app", "shop"},
                                                    {"service", "php"},
                                                    {"release", "12"},
                                                    {"container", "shop-php-1"},
                                                    {"pool", "www"}}));
  EXPECT_EQ(upf->samples[0].second, 1);
  EXPECT_EQ(upf->samples[1].second, 0);
  std::map<std::string, double> want = {{"moor_phpfpm_active_processes", 3},
                                        {"moor_phpfpm_idle_processes", 2},
                                        {"moor_phpfpm_total_processes", 5},
                                        {"moor_phpfpm_accepted_connections_total", 42},
                                        {"moor_phpfpm_listen_queue", 1},
                                        {"moor_phpfpm_listen_queue_max", 3},
                                        {"moor_phpfpm_max_children_reached_total", 6},
                                        {"moor_phpfpm_slow_requests_total", 7}};
  for (const auto& [name, v] : want) {
    const auto* f = w.Find(name);
    ASSERT_TRUE(f) << name;
    ASSERT_EQ(f->samples.size(), 1u) << name;  // the down pool has only up
    EXPECT_EQ(f->samples[0].second, v) << name;
    EXPECT_EQ(f->type, name.ends_with("_total") ? "counter" : "gauge") << name;
  }
  // A page without a counter leaves its series out rather than reporting 0.
  results.assign(1, {up, discovery::ParseFpmStatus(R"({"pool":"www","active processes":1})")});
  Recorder w2;
  WriteFpmMetrics(w2, results);
  const auto* active = w2.Find("moor_phpfpm_active_processes");
  const auto* idle = w2.Find("moor_phpfpm_idle_processes");
  ASSERT_TRUE(active != nullptr && idle != nullptr);
  EXPECT_EQ(active->samples.size(), 1u);
  EXPECT_TRUE(idle->samples.empty());
}

TEST(FpmScrape, ParallelAndBounded) {
  dt::FastCgiResponder fpm(std::string("Content-Type: application/json\r\n\r\n") + kPage);
  dt::HungServer hung1, hung2, hung3;
  auto target = [](const std::string& addr, const std::string& name) {
    return FpmTarget{name, name, "", "", "", addr, "/status"};
  };
  std::vector<FpmTarget> targets = {target(hung1.addr(), "h1"), target(fpm.addr(), "ok"),
                                    target(hung2.addr(), "h2"), target(hung3.addr(), "h3"),
                                    target("127.0.0.1:" + std::to_string(dt::UnusedPort()), "refused")};
  FpmScrapeOptions o;
  // Long enough that scheduling noise (ASan, a loaded machine) cannot blur parallel and serial.
  o.pool_timeout_ns = 1'500'000'000;
  o.budget_ns = 10'000'000'000;
  auto t0 = std::chrono::steady_clock::now();
  auto r = ScrapeFpm(targets, o);
  auto took = std::chrono::steady_clock::now() - t0;
  // Three hung pools at 1.5 s each, in parallel: about 1.5 s, not 4.5.
  EXPECT_LT(took, std::chrono::milliseconds(4000));
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[1].target.container, "ok");
  ASSERT_TRUE(r[1].status) << r[1].status.error().message();
  EXPECT_EQ(r[1].status->accepted_conn, 42);
  EXPECT_FALSE(r[0].status);
  EXPECT_FALSE(r[2].status);
  EXPECT_FALSE(r[3].status);
  EXPECT_FALSE(r[4].status);

  // One at a time, the budget cuts the scrape short: the rest are down, not waited for.
  o.parallel = 1;
  o.budget_ns = 2'000'000'000;
  t0 = std::chrono::steady_clock::now();
  r = ScrapeFpm({target(hung1.addr(), "h1"), target(hung2.addr(), "h2"), target(hung3.addr(), "h3")}, o);
  took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::milliseconds(4000));  // the 2 s budget, not 3 × 1.5 s
  ASSERT_EQ(r.size(), 3u);
  ASSERT_FALSE(r[2].status);
  EXPECT_NE(r[2].status.error().message().find("budget"), std::string::npos) << r[2].status.error().message();
  EXPECT_TRUE(ScrapeFpm({}, o).empty());
}

class FakeLister : public discovery::ContainerLister {
 public:
  std::vector<ContainerInfo> list;
  std::vector<ContainerInfo> List() override { return list; }
  std::optional<ContainerInfo> Get(const std::string&) override { return std::nullopt; }
};

TEST(FpmMetrics, CollectorScrapesListedPools) {
  dt::FastCgiResponder fpm(std::string("Content-Type: application/json\r\n\r\n") + kPage);
  auto port = fpm.addr().substr(fpm.addr().find(':') + 1);
  FakeLister lister;
  auto a = Php({{"moor.check", "fastcgi:/ping"}, {"moor.check.port", port}, {"moor.app", "shop"}}, "127.0.0.1");
  auto off = Php({{"moor.check", "fastcgi:/ping"}, {"moor.metrics.fpm", "off"}}, "127.0.0.1");
  off.id = "off";
  off.name = "off";
  auto bad = Php({{"moor.metrics.fpm", "9000"}}, "127.0.0.1");
  bad.id = "bad";
  bad.name = "bad";
  lister.list = {a, off, bad};
  FpmMetrics m(lister);
  Recorder w;
  m.Collect(w);
  const auto* up = w.Find("moor_phpfpm_up");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->samples.size(), 1u);
  EXPECT_EQ(up->samples[0].second, 1);
  EXPECT_EQ(up->samples[0].first[0], (std::pair<std::string, std::string>{"app", "shop"}));
  // Registered on the default registry: the rendering carries it.
  auto text = metrics::DefaultRegistry().Render();
  EXPECT_NE(text.find("moor_phpfpm_accepted_connections_total{app=\"shop\""), std::string::npos) << text;
}

}  // namespace
}  // namespace moor::engine
