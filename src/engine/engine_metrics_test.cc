#include "engine/engine_metrics.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <set>

#include "common/file.h"

namespace moor::engine {
namespace {

class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/engine-metrics-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  void Put(const std::string& rel, const std::string& content) {
    auto path = dir_ + "/" + rel;
    ASSERT_TRUE(MkdirAll(path.substr(0, path.rfind('/'))));
    ASSERT_TRUE(WriteFileAtomic(path, content));
  }
  std::string dir_;
};

constexpr const char* kNetDev =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier "
    "compressed\n"
    "    lo:  999999     99    0    0    0     0          0         0   999999     99    0    0    0     0       0          0\n"
    "  eth0:    1000     10    0    0    0     0          0         0     2000     20    0    0    0     0       0          0\n"
    "  eth1:     500      5    0    0    0     0          0         0      100      1    0    0    0     0       0          0\n";

TEST_F(Fixture, ReadsCgroupV1AndNetDev) {
  const std::string cg = "/moor/abc";
  Put("memory" + cg + "/memory.usage_in_bytes", "1048576\n");
  Put("memory" + cg + "/memory.limit_in_bytes", "9223372036854771712\n");  // unlimited
  Put("memory" + cg + "/memory.stat", "cache 4096\nrss 8192\ntotal_cache 1\n");
  Put("memory" + cg + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  Put("cpuacct" + cg + "/cpuacct.usage", "2500000000\n");
  Put("pids" + cg + "/pids.current", "7\n");
  Put("blkio" + cg + "/blkio.throttle.io_service_bytes",
      "8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:16 Read 1\n8:16 Write 2\nTotal 603\n");
  Put("net_dev", kNetDev);
  auto u = ReadContainerUsage(dir_, cg, dir_ + "/net_dev");
  EXPECT_EQ(u.memory_usage, 1048576u);
  EXPECT_EQ(u.memory_limit, 0u);
  EXPECT_EQ(u.memory_cache, 4096u);
  EXPECT_EQ(u.oom_kills, 2u);
  EXPECT_EQ(u.cpu_seconds, 2.5);
  EXPECT_EQ(u.pids, 7u);
  EXPECT_EQ(u.blkio_read, 101u);
  EXPECT_EQ(u.blkio_write, 202u);
  EXPECT_EQ(u.rx_bytes, 1500u);  // lo left out
  EXPECT_EQ(u.rx_packets, 15u);
  EXPECT_EQ(u.tx_bytes, 2100u);
  EXPECT_EQ(u.tx_packets, 21u);
}

TEST_F(Fixture, ReadsCgroupV2) {
  const std::string cg = "/moor/abc";
  Put(cg.substr(1) + "/memory.current", "2048\n");
  Put(cg.substr(1) + "/memory.max", "max\n");
  Put(cg.substr(1) + "/memory.stat", "anon 10\nfile 20\n");
  Put(cg.substr(1) + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  Put(cg.substr(1) + "/cpu.stat", "usage_usec 1500000\nuser_usec 1\n");
  Put(cg.substr(1) + "/pids.current", "3\n");
  Put(cg.substr(1) + "/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=5 wbytes=0\n");
  auto u = ReadContainerUsage(dir_, cg, "");
  EXPECT_EQ(u.memory_usage, 2048u);
  EXPECT_EQ(u.memory_limit, 0u);
  EXPECT_EQ(u.memory_cache, 20u);
  EXPECT_EQ(u.oom_kills, 1u);
  EXPECT_EQ(u.cpu_seconds, 1.5);
  EXPECT_EQ(u.pids, 3u);
  EXPECT_EQ(u.blkio_read, 15u);
  EXPECT_EQ(u.blkio_write, 20u);
  EXPECT_FALSE(u.rx_bytes);
}

TEST_F(Fixture, MissingOrGarbledFilesGiveNothing) {
  Put("moor/abc/memory.current", "not a number\n");
  Put("moor/abc/memory.max", "123\n");
  auto u = ReadContainerUsage(dir_, "/moor/abc", dir_ + "/no/net/dev");
  EXPECT_FALSE(u.memory_usage);
  EXPECT_EQ(u.memory_limit, 123u);
  EXPECT_FALSE(u.cpu_seconds);
  EXPECT_FALSE(u.oom_kills);
  EXPECT_FALSE(u.pids);
  EXPECT_FALSE(u.rx_bytes);
  auto none = ReadContainerUsage(dir_ + "/absent", "/moor/x", "");
  EXPECT_FALSE(none.memory_usage);
  EXPECT_FALSE(none.blkio_read);
}

TEST(ParseRfc3339, Forms) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:10Z"), 10.0);
  EXPECT_EQ(ParseRfc3339("2026-11-26T21:49:35Z"), 1795729775.0);
  EXPECT_DOUBLE_EQ(*ParseRfc3339("2026-11-26T21:49:35.25Z"), 1795729775.25);
  EXPECT_DOUBLE_EQ(*ParseRfc3339("2026-11-26T23:49:35.5+02:00"), 1795729775.5);
  EXPECT_FALSE(ParseRfc3339(""));
  EXPECT_FALSE(ParseRfc3339("0001-01-01"));
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-26T21:49:35"));
  EXPECT_FALSE(ParseRfc3339("2026-11-26T21:49:35.Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-26T21:49:35Zjunk"));
}

TEST(ValidateMetricsAddr, GoodAndBad) {
  EXPECT_TRUE(ValidateMetricsAddr("127.0.0.1:9323"));
  EXPECT_TRUE(ValidateMetricsAddr("0.0.0.0:1"));
  EXPECT_TRUE(ValidateMetricsAddr("[::1]:9323"));
  for (std::string bad : {"", ":9323", "9323", "localhost:9323", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:x", "::1:9323", "[::1]", "1.2.3:80"}) {
    auto r = ValidateMetricsAddr(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("--metrics-addr"), std::string::npos);
  }
}

// Collects samples as "family{k=v,...}" → value.
class Recorder : public metrics::SampleWriter {
 public:
  void Family(std::string_view name, std::string_view, std::string_view) override {
    family_ = name;
    families.push_back(family_);
  }
  void Sample(const metrics::Labels& labels, double value) override {
    std::string k = family_ + "{";
    for (size_t i = 0; i < labels.size(); ++i) k += (i ? "," : "") + labels[i].first + "=" + labels[i].second;
    values[k + "}"] = value;
  }
  std::map<std::string, double> values;
  std::vector<std::string> families;

 private:
  std::string family_;
};

ContainerRecord Rec(const std::string& name, const std::string& status) {
  ContainerRecord r;
  r.id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  r.id[0] = name[0];
  r.name = name;
  r.config.image = "php:8.3-fpm";
  r.state.status = status;
  return r;
}

TEST(WriteContainerMetrics, RunningAndStoppedContainers) {
  auto web = Rec("shop-php-1", "running");
  web.config.labels = {{"moor.app", "shop"}, {"moor.app.service", "php"}, {"moor.release", "42"}};
  web.state.restart_count = 3;
  web.state.started_at = "1970-01-01T00:01:40Z";
  web.state.health.status = "unhealthy";
  ContainerUsage u;
  u.cpu_seconds = 1.25;
  u.memory_usage = 100;
  u.oom_kills = 2;
  u.rx_bytes = 7;
  auto old = Rec("legacy", "exited");
  old.config.labels = {{"moor.service", "cron"}};
  old.state.oom_killed = true;
  old.state.health.status = "healthy";  // stale: not shown for a stopped container
  auto web2 = Rec("shop-php-2", "running");
  web2.config.labels = web.config.labels;
  std::vector<ContainerSample> in = {{web, u}, {old, std::nullopt}, {web2, ContainerUsage{}}};
  Recorder rec;
  WriteContainerMetrics(rec, in);

  const std::string wl = "container=shop-php-1,id=s123456789ab,app=shop,service=php,image=php:8.3-fpm,release=42";
  const std::string ol = "container=legacy,id=l123456789ab,app=,service=cron,image=php:8.3-fpm,release=";
  auto& v = rec.values;
  EXPECT_EQ(v.at("moor_container_cpu_seconds_total{" + wl + "}"), 1.25);
  EXPECT_EQ(v.at("moor_container_memory_usage_bytes{" + wl + "}"), 100);
  EXPECT_FALSE(v.contains("moor_container_memory_limit_bytes{" + wl + "}"));  // unknown: left out
  EXPECT_EQ(v.at("moor_container_oom_kills_total{" + wl + "}"), 2);
  EXPECT_EQ(v.at("moor_container_oom_kills_total{" + ol + "}"), 1);
  EXPECT_EQ(v.at("moor_container_network_receive_bytes_total{" + wl + "}"), 7);
  EXPECT_FALSE(v.contains("moor_container_cpu_seconds_total{" + ol + "}"));
  EXPECT_EQ(v.at("moor_container_restarts_total{" + wl + "}"), 3);
  EXPECT_EQ(v.at("moor_container_running{" + wl + "}"), 1);
  EXPECT_EQ(v.at("moor_container_running{" + ol + "}"), 0);
  EXPECT_EQ(v.at("moor_container_health_status{" + wl + ",status=unhealthy}"), 1);
  EXPECT_EQ(v.at("moor_container_health_status{" + wl + ",status=healthy}"), 0);
  EXPECT_EQ(v.at("moor_container_health_status{" + wl + ",status=starting}"), 0);
  EXPECT_FALSE(v.contains("moor_container_health_status{" + ol + ",status=healthy}"));
  EXPECT_EQ(v.at("moor_container_start_time_seconds{" + wl + "}"), 100);
  EXPECT_FALSE(v.contains("moor_container_start_time_seconds{" + ol + "}"));
  EXPECT_EQ(v.at("moor_service_instances{app=shop,service=php,state=running}"), 2);
  EXPECT_EQ(v.at("moor_service_instances{app=,service=cron,state=running}"), 0);
  // Each family once.
  std::set<std::string> uniq(rec.families.begin(), rec.families.end());
  EXPECT_EQ(uniq.size(), rec.families.size());
  EXPECT_EQ(rec.families.back(), "moor_service_instances");  // open for discovery's samples
}

TEST(WriteContainerMetrics, RendersValidTextWithoutErrors) {
  metrics::Registry reg;
  auto c = Rec("we\"ird\nname", "running");
  c.config.labels = {{"moor.app", "a\\b"}, {"moor.service", "s"}};
  c.state.health.status = "starting";
  ContainerUsage u;
  u.cpu_seconds = 0.5;
  reg.AddCollector([&](metrics::SampleWriter& w) { WriteContainerMetrics(w, {{c, u}}); });
  auto text = reg.Render();
  EXPECT_NE(text.find("moor_metrics_collector_errors_total 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("moor_container_cpu_seconds_total{container=\"we\\\"ird\\nname\",id=\"w123456789ab\","
                      "app=\"a\\\\b\",service=\"s\",image=\"php:8.3-fpm\",release=\"\"} 0.5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE moor_service_instances gauge\n"), std::string::npos);
}

TEST(WriteContainerMetrics, NoContainers) {
  Recorder rec;
  WriteContainerMetrics(rec, {});
  EXPECT_TRUE(rec.values.empty());
  EXPECT_FALSE(rec.families.empty());
}

}  // namespace
}  // namespace moor::engine
