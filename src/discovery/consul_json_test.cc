// Consul JSON shapes: encoding helpers and parsing of service/check definitions.
#include "discovery/consul_json.h"

#include <gtest/gtest.h>

namespace moor::discovery::consul {
namespace {

using nlohmann::json;

TEST(ConsulJsonTest, GoDurationLikeGo) {
  EXPECT_EQ(GoDuration(0), "0s");
  EXPECT_EQ(GoDuration(500), "500ns");
  EXPECT_EQ(GoDuration(1500), "1.5µs");
  EXPECT_EQ(GoDuration(250'000'000), "250ms");
  EXPECT_EQ(GoDuration(10'000'000'000), "10s");
  EXPECT_EQ(GoDuration(1'500'000'000), "1.5s");
  EXPECT_EQ(GoDuration(90'000'000'000), "1m30s");
  EXPECT_EQ(GoDuration(3600'000'000'000), "1h0m0s");
  EXPECT_EQ(GoDuration(-2'000'000'000), "-2s");
}

TEST(ConsulJsonTest, ParsesAServiceDefinitionWithChecks) {
  auto d = ParseServiceDefinition(json::parse(R"({
    "ID": "api-1", "Name": "api", "Tags": ["v1", "blue"], "Address": "10.0.0.7", "Port": 9000,
    "Meta": {"version": "3"},
    "Check": {"HTTP": "http://10.0.0.7:9000/health", "Method": "HEAD",
              "Header": {"Host": ["api.local"], "X-A": ["1", "2"]},
              "Interval": "5s", "Timeout": "1s", "TLSSkipVerify": true,
              "DeregisterCriticalServiceAfter": "1m", "SuccessBeforePassing": 2,
              "FailuresBeforeCritical": 3, "Status": "passing", "Notes": "n"},
    "Checks": [{"CheckID": "ttl", "TTL": "30s"},
               {"TCP": "10.0.0.7:9000", "Interval": 2000000000},
               {"FastCGI": "10.0.0.7:9000", "FastCGIPath": "/fpm-ping"},
               {"Args": ["php", "-v"], "DockerContainerID": "abc"}]
  })"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->svc.id, "api-1");
  EXPECT_EQ(d->svc.name, "api");
  EXPECT_EQ(d->svc.tags, (std::vector<std::string>{"v1", "blue"}));
  EXPECT_EQ(d->svc.address, "10.0.0.7");
  EXPECT_EQ(d->svc.port, 9000);
  EXPECT_EQ(d->svc.meta.at("version"), "3");
  ASSERT_EQ(d->checks.size(), 5u);
  const CheckDef& h = d->checks[0];
  EXPECT_EQ(h.type, "http");
  EXPECT_EQ(h.target, "http://10.0.0.7:9000/health");
  EXPECT_EQ(h.method, "HEAD");
  EXPECT_EQ(h.headers.at("Host"), "api.local");
  EXPECT_EQ(h.headers.at("X-A"), "1, 2");
  EXPECT_EQ(h.interval_ns, 5'000'000'000);
  EXPECT_EQ(h.timeout_ns, 1'000'000'000);
  EXPECT_TRUE(h.tls_skip_verify);
  EXPECT_EQ(h.deregister_critical_after_ns, 60'000'000'000);
  EXPECT_EQ(h.success_before_passing, 2);
  EXPECT_EQ(h.failures_before_critical, 3);
  EXPECT_EQ(h.initial, Health::kPassing);
  EXPECT_EQ(h.notes, "n");
  EXPECT_EQ(d->checks[1].type, "ttl");
  EXPECT_EQ(d->checks[1].id, "ttl");
  EXPECT_EQ(d->checks[1].ttl_ns, 30'000'000'000);
  EXPECT_EQ(d->checks[1].initial, Health::kCritical);
  EXPECT_EQ(d->checks[2].type, "tcp");
  EXPECT_EQ(d->checks[2].interval_ns, 2'000'000'000);
  EXPECT_EQ(d->checks[3].type, "fastcgi");
  EXPECT_EQ(d->checks[3].target, "10.0.0.7:9000");
  EXPECT_EQ(d->checks[3].path, "/fpm-ping");
  EXPECT_EQ(d->checks[4].type, "exec");
  EXPECT_EQ(d->checks[4].container_id, "abc");
  EXPECT_EQ(d->checks[4].args, (std::vector<std::string>{"php", "-v"}));
}

TEST(ConsulJsonTest, AcceptsLowerAndSnakeCaseKeys) {
  auto d = ParseServiceDefinition(json::parse(R"({
    "name": "web", "id": "web-2", "port": 80, "tags": ["x"],
    "check": {"tcp": "127.0.0.1:80", "interval": "3s", "deregister_critical_service_after": "90s"}})"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->svc.id, "web-2");
  ASSERT_EQ(d->checks.size(), 1u);
  EXPECT_EQ(d->checks[0].type, "tcp");
  EXPECT_EQ(d->checks[0].interval_ns, 3'000'000'000);
  EXPECT_EQ(d->checks[0].deregister_critical_after_ns, 90'000'000'000);
  std::string sid;
  auto c = ParseCheckDefinition(json::parse(R"({"service_id": "web-2", "name": "t", "ttl": "10s"})"), &sid);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(sid, "web-2");
  EXPECT_EQ(c->name, "t");
}

TEST(ConsulJsonTest, RejectsWhatMoorDoesNotRun) {
  auto msg = [](const char* text) {
    auto r = ParseServiceDefinition(json::parse(text));
    return r ? std::string("ok") : r.error().message();
  };
  EXPECT_EQ(msg(R"({"Port": 1})"), "Missing service name");
  EXPECT_EQ(msg(R"({"Name": "a", "Port": 70000})"), "Port 70000 is out of range 0-65535");
  EXPECT_EQ(msg(R"({"Name": "a", "Tags": "x"})"), "Tags must be a list of strings");
  EXPECT_NE(msg(R"({"Name": "a", "Check": {"GRPC": "127.0.0.1:1"}})").find("GRPC checks are not supported"),
            std::string::npos);
  EXPECT_EQ(msg(R"({"Name": "a", "Check": {"Interval": "1s"}})"),
            "Check: a check needs one of HTTP, TCP, TTL, FastCGI or Args");
  EXPECT_EQ(msg(R"({"Name": "a", "Check": {"TCP": "1.2.3.4:1", "TTL": "1s"}})"),
            "Check: a check has exactly one of HTTP, TCP, TTL, FastCGI or Args");
  EXPECT_EQ(msg(R"({"Name": "a", "Checks": [{"Args": ["true"]}]})"),
            "Checks[0]: Args checks run inside a container with moor: set DockerContainerID");
  EXPECT_EQ(msg(R"({"Name": "a", "Check": {"TTL": "soon"}})"),
            "Check: TTL: invalid duration \"soon\" (want e.g. \"10s\")");
  EXPECT_EQ(msg(R"({"Name": "a", "Check": {"TTL": "1s", "Status": "fine"}})"),
            "Check: Status \"fine\": want passing, warning or critical");
  EXPECT_EQ(msg(R"({"Name": "a", "Kind": "connect-proxy"})"), "service Kind \"connect-proxy\" is not supported by moor");
  EXPECT_EQ(msg(R"([1])"), "the service definition must be a JSON object");
}

TEST(ConsulJsonTest, EncodesEntriesInConsulsShapes) {
  Node node{.id = "n-1", .name = "node1", .address = "10.89.0.1", .datacenter = "dc1", .meta = {}};
  ServiceInstance s;
  s.id = "web-1";
  s.name = "web";
  s.tags = {"a"};
  s.address = "10.89.0.5";
  s.port = 80;
  s.create_index = 3;
  s.modify_index = 4;
  json c = CatalogServiceJson(node, s);
  EXPECT_EQ(c["Node"], "node1");
  EXPECT_EQ(c["Address"], "10.89.0.1");
  EXPECT_EQ(c["Datacenter"], "dc1");
  EXPECT_EQ(c["ServiceID"], "web-1");
  EXPECT_EQ(c["ServiceName"], "web");
  EXPECT_EQ(c["ServiceTags"], json::array({"a"}));
  EXPECT_EQ(c["ServiceAddress"], "10.89.0.5");
  EXPECT_EQ(c["ServicePort"], 80);
  EXPECT_EQ(c["ServiceMeta"], json::object());
  EXPECT_EQ(c["CreateIndex"], 3);
  EXPECT_EQ(c["ModifyIndex"], 4);

  CheckState cs;
  cs.def.id = "service:web-1";
  cs.def.name = "Service 'web' check";
  cs.def.type = "tcp";
  cs.def.target = "10.89.0.5:80";
  cs.service_id = "web-1";
  cs.service_name = "web";
  cs.status = Health::kWarning;
  cs.output = "slow";
  json j = CheckJson(node, cs, s.tags);
  EXPECT_EQ(j["Node"], "node1");
  EXPECT_EQ(j["CheckID"], "service:web-1");
  EXPECT_EQ(j["Status"], "warning");
  EXPECT_EQ(j["Output"], "slow");
  EXPECT_EQ(j["ServiceName"], "web");
  EXPECT_EQ(j["ServiceTags"], json::array({"a"}));
  EXPECT_EQ(j["Type"], "tcp");
  EXPECT_EQ(j["Interval"], "10s");
  EXPECT_EQ(j["Timeout"], "5s");
  EXPECT_EQ(j["Definition"]["TCP"], "10.89.0.5:80");

  KvEntry e{.key = "a/b", .value = "hi", .flags = 7, .create_index = 5, .modify_index = 6, .lock_index = 0};
  EXPECT_EQ(KvJson(e), json::parse(R"({"LockIndex":0,"Key":"a/b","Flags":7,"Value":"aGk=",
                                       "CreateIndex":5,"ModifyIndex":6})"));
  e.value.clear();
  EXPECT_TRUE(KvJson(e)["Value"].is_null());
}

}  // namespace
}  // namespace moor::discovery::consul
