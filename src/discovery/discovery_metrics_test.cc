#include "discovery/discovery_metrics.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>

#include "discovery/check_runner.h"
#include "discovery/dns_server.h"
#include "discovery/probe_test_servers.h"

namespace moor::discovery {
namespace {

// The value of one sample line `name{labels}` in the default registry's
// rendering (labels exactly as rendered); 0 when absent.
double Sample(const std::string& series) {
  std::istringstream in(metrics::DefaultRegistry().Render());
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return 0;
}

// A DNS query for `name` of type `qtype`, without EDNS.
std::string Query(const std::string& name, uint16_t qtype, uint16_t id = 0x1234) {
  std::string q = {static_cast<char>(id >> 8), static_cast<char>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  std::istringstream parts(name);
  for (std::string label; std::getline(parts, label, '.');) {
    q += static_cast<char>(label.size());
    q += label;
  }
  q += '\0';
  q += {static_cast<char>(qtype >> 8), static_cast<char>(qtype), 0, 1};
  return q;
}

TEST(DnsMetrics, QueryTypeFromTheQuestion) {
  auto q = Query("web.service.moor", 33);
  EXPECT_EQ(DnsQueryType(reinterpret_cast<const uint8_t*>(q.data()), q.size()), 33);
  q = Query("a.b", 28);
  EXPECT_EQ(DnsQueryType(reinterpret_cast<const uint8_t*>(q.data()), q.size()), 28);
  // Truncated, empty, no question: 0, never a read past the end.
  EXPECT_EQ(DnsQueryType(reinterpret_cast<const uint8_t*>(q.data()), q.size() - 3), 0);
  EXPECT_EQ(DnsQueryType(reinterpret_cast<const uint8_t*>(q.data()), 5), 0);
  std::string none = q;
  none[5] = 0;  // QDCOUNT 0
  EXPECT_EQ(DnsQueryType(reinterpret_cast<const uint8_t*>(none.data()), none.size()), 0);
  std::string runaway(12, '\0');
  runaway[5] = 1;
  runaway += std::string(1, '\x3f') + std::string(10, 'a');  // a label longer than the message
  EXPECT_EQ(DnsQueryType(reinterpret_cast<const uint8_t*>(runaway.data()), runaway.size()), 0);
}

TEST(DnsMetrics, Labels) {
  EXPECT_EQ(DnsTypeLabel(1), "A");
  EXPECT_EQ(DnsTypeLabel(33), "SRV");
  EXPECT_EQ(DnsTypeLabel(4242), "other");
  EXPECT_EQ(DnsRcodeLabel(0), "NOERROR");
  EXPECT_EQ(DnsRcodeLabel(3), "NXDOMAIN");
  EXPECT_EQ(DnsRcodeLabel(2), "SERVFAIL");
  EXPECT_EQ(DnsRcodeLabel(12), "RCODE12");
}

TEST(DnsMetrics, CountedAndRenderedOnce) {
  EnableDnsMetrics();
  EnableDnsMetrics();  // idempotent: one collector
  double before = Sample(R"(moor_dns_queries_total{qtype="other",rcode="REFUSED"})");
  CountDnsQuery(4242, 5);
  CountDnsQuery(4243, 5 + 16);  // only the header's 4 bits count
  EXPECT_EQ(Sample(R"(moor_dns_queries_total{qtype="other",rcode="REFUSED"})"), before + 2);
  auto text = metrics::DefaultRegistry().Render();
  size_t first = text.find("# TYPE moor_dns_queries_total counter");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("# TYPE moor_dns_queries_total", first + 1), std::string::npos);
}

TEST(DnsMetrics, ServerCountsItsReplies) {
  Catalog cat(Node{"id1", "node1", "127.0.0.1", "dc1", {}});
  ServiceInstance s;
  s.id = "web-1";
  s.name = "web";
  s.address = "10.0.0.2";
  s.port = 80;
  ASSERT_TRUE(cat.Register(s, {}));
  int port = testing::UnusedPort();
  DnsOptions o;
  o.listen = {"127.0.0.1:" + std::to_string(port)};
  DnsServer dns(cat, o);
  ASSERT_TRUE(dns.Start());
  double a_ok = Sample(R"(moor_dns_queries_total{qtype="A",rcode="NOERROR"})");
  double srv_nx = Sample(R"(moor_dns_queries_total{qtype="SRV",rcode="NXDOMAIN"})");

  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  auto ask = [&](const std::string& q) {
    sendto(sock.get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{sock.get(), POLLIN, 0};
    char buf[4096];
    if (poll(&p, 1, 2000) <= 0) return -1;
    ssize_t n = recv(sock.get(), buf, sizeof buf, 0);
    return n >= 12 ? buf[3] & 0x0f : -1;
  };
  EXPECT_EQ(ask(Query("web.service.moor", 1)), 0);
  EXPECT_EQ(ask(Query("web.service.moor", 1, 7)), 0);  // the cached path counts too
  EXPECT_EQ(ask(Query("nope.service.moor", 33)), 3);
  dns.Stop();
  EXPECT_EQ(Sample(R"(moor_dns_queries_total{qtype="A",rcode="NOERROR"})"), a_ok + 2);
  EXPECT_EQ(Sample(R"(moor_dns_queries_total{qtype="SRV",rcode="NXDOMAIN"})"), srv_nx + 1);
}

TEST(CheckMetrics, ProbeResultsAreCounted) {
  std::string passing = R"(moor_check_results_total{type="tcp",status="passing"})";
  std::string critical = R"(moor_check_results_total{type="tcp",status="critical"})";
  double p0 = Sample(passing), c0 = Sample(critical);
  testing::HungServer up;  // accepts: a tcp check passes
  std::atomic<int> reports{0};
  {
    CheckRunner runner(nullptr, [&](const std::string&, Health, const std::string&) { ++reports; });
    CheckDef ok;
    ok.id = "ok";
    ok.type = "tcp";
    ok.target = up.addr();
    CheckDef down = ok;
    down.id = "down";
    down.target = "127.0.0.1:" + std::to_string(testing::UnusedPort());
    ASSERT_TRUE(runner.Add(ok));
    ASSERT_TRUE(runner.Add(down));
    for (int i = 0; i < 1000 && reports < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(Sample(passing), p0 + 1);
  EXPECT_GE(Sample(critical), c0 + 1);

  double ttl0 = Sample(R"(moor_check_results_total{type="ttl",status="warning"})");
  {
    CheckRunner runner(nullptr, [](const std::string&, Health, const std::string&) {});
    CheckDef t;
    t.id = "t";
    t.type = "ttl";
    t.ttl_ns = 60'000'000'000;
    ASSERT_TRUE(runner.Add(t));
    ASSERT_TRUE(runner.TtlUpdate("t", Health::kWarning, "slow"));
    EXPECT_FALSE(runner.TtlUpdate("missing", Health::kWarning, ""));  // not counted
  }
  EXPECT_EQ(Sample(R"(moor_check_results_total{type="ttl",status="warning"})"), ttl0 + 1);
}

CheckDef Ttl(const std::string& id, Health h) {
  CheckDef d;
  d.id = id;
  d.name = id;
  d.type = "ttl";
  d.ttl_ns = 600'000'000'000;
  d.initial = h;
  return d;
}

TEST(ServiceHealth, CountsPerServiceAndState) {
  Catalog cat(Node{"id1", "node1", "127.0.0.1", "dc1", {}});
  auto add = [&](const std::string& id, const std::string& name, Health h) {
    ServiceInstance s;
    s.id = id;
    s.name = name;
    s.address = "10.0.0.2";
    s.port = 80;
    s.source = "container";
    s.container_id = "c-" + id;
    ASSERT_TRUE(cat.Register(s, {Ttl("service:" + id, h)}));
  };
  add("php-1", "php", Health::kPassing);
  add("php-2", "php", Health::kWarning);  // still takes traffic: passing
  add("php-3", "php", Health::kCritical);
  add("db-1", "db", Health::kCritical);
  auto c = CountServiceHealth(cat);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.at({"", "php"}), std::make_pair(2, 1));
  EXPECT_EQ(c.at({"", "db"}), std::make_pair(0, 1));
  // The daemon maps instances to app/service labels (from their containers).
  auto mapped = CountServiceHealth(cat, [](const ServiceInstance& s) {
    return std::make_pair(std::string(s.name == "php" ? "shop" : ""), s.name + "-svc");
  });
  EXPECT_EQ(mapped.at({"shop", "php-svc"}), std::make_pair(2, 1));

  // Through the process-wide source, and written as samples.
  EXPECT_TRUE(CurrentServiceHealth().empty());
  SetServiceHealthSource([&] { return CountServiceHealth(cat); });
  EXPECT_EQ(CurrentServiceHealth().size(), 2u);
  SetServiceHealthSource(nullptr);
  EXPECT_TRUE(CurrentServiceHealth().empty());

  struct Rec : metrics::SampleWriter {
    std::vector<std::pair<metrics::Labels, double>> got;
    void Family(std::string_view, std::string_view, std::string_view) override {}
    void Sample(const metrics::Labels& l, double v) override { got.emplace_back(l, v); }
  } w;
  WriteServiceHealthSamples(w, c);
  ASSERT_EQ(w.got.size(), 4u);
  EXPECT_EQ(w.got[0].first, (metrics::Labels{{"app", ""}, {"service", "db"}, {"state", "passing"}}));
  EXPECT_EQ(w.got[0].second, 0);
  EXPECT_EQ(w.got[3].first, (metrics::Labels{{"app", ""}, {"service", "php"}, {"state", "critical"}}));
  EXPECT_EQ(w.got[3].second, 1);
}

}  // namespace
}  // namespace moor::discovery
