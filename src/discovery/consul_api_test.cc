// The Consul API end to end: a real HttpServer on a unix socket in a private
// temp dir, a real Catalog and Agent, requests through UnixHttpClient.
#include "discovery/consul_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http_client.h"
#include "common/file.h"

namespace moor::discovery {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ConsulApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-consul-test.XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir_ = tmpl;
    Node node;
    node.id = "6e5a6b8c-0000-4000-8000-000000000001";
    node.name = "node1";
    node.address = "10.89.0.1";
    node.meta = {{"rack", "r1"}};
    catalog_ = std::make_unique<Catalog>(node);
    agent_ = std::make_unique<Agent>(*catalog_, nullptr);
    AddConsulRoutes(router_, *agent_);
    auto fd = api::ListenUnix(dir_ + "/consul.sock", 0600);
    ASSERT_TRUE(fd) << fd.error().message();
    server_ = std::make_unique<api::HttpServer>(std::move(*fd), router_);
    server_->Start();
  }
  void TearDown() override {
    server_.reset();
    agent_.reset();
    catalog_.reset();
    (void)RemoveAll(dir_);
  }

  // One request on a fresh connection (so concurrent calls do not share one).
  api::Response Do(const std::string& method, const std::string& target, const std::string& body = "") {
    api::UnixHttpClient c(dir_ + "/consul.sock");
    auto r = c.Do(method, target, body);
    EXPECT_TRUE(r) << method << " " << target << ": " << r.error().message();
    return r ? *r : api::Response{0, {}, ""};
  }
  json Get(const std::string& target) {
    auto r = Do("GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  uint64_t IndexOf(const api::Response& r) {
    auto it = r.headers.find("x-consul-index");
    return it == r.headers.end() ? 0 : std::stoull(it->second);
  }
  void Register(const std::string& def) {
    auto r = Do("PUT", "/v1/agent/service/register", def);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::string dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Agent> agent_;
  api::Router router_;
  std::unique_ptr<api::HttpServer> server_;
};

TEST_F(ConsulApiTest, AgentSelfStatusAndDatacenters) {
  json self = Get("/v1/agent/self");
  EXPECT_EQ(self["Config"]["Datacenter"], "dc1");
  EXPECT_EQ(self["Config"]["NodeName"], "node1");
  EXPECT_EQ(self["Config"]["NodeID"], "6e5a6b8c-0000-4000-8000-000000000001");
  EXPECT_EQ(self["Member"]["Name"], "node1");
  EXPECT_EQ(self["Member"]["Addr"], "10.89.0.1");
  EXPECT_EQ(Get("/v1/status/leader"), "10.89.0.1:8300");
  EXPECT_EQ(Get("/v1/status/peers"), json::array({"10.89.0.1:8300"}));
  EXPECT_EQ(Get("/v1/catalog/datacenters"), json::array({"dc1"}));
  json nodes = Get("/v1/catalog/nodes");
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["Node"], "node1");
  EXPECT_EQ(nodes[0]["Address"], "10.89.0.1");
  EXPECT_EQ(nodes[0]["Meta"]["rack"], "r1");
  EXPECT_EQ(Get("/v1/catalog/nodes?node-meta=rack:r2"), json::array());
  // X-Consul-Token is accepted (and ignored: moor has no ACLs).
  api::UnixHttpClient c(dir_ + "/consul.sock");
  auto r = c.Do("GET", "/v1/catalog/nodes", {}, {{"x-consul-token", "secret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ConsulApiTest, RegisteredServiceInEveryShape) {
  Register(R"({"Name":"web","ID":"web-1","Tags":["a","b"],"Address":"10.89.0.5","Port":8080,"Meta":{"v":"1"}})");
  Register(R"({"Name":"web","ID":"web-2","Tags":["a"],"Address":"10.89.0.6","Port":8080})");

  auto r = Do("GET", "/v1/catalog/services");
  ASSERT_EQ(r.status, 200);
  EXPECT_GE(IndexOf(r), 1u);
  EXPECT_EQ(r.headers["x-consul-knownleader"], "true");
  EXPECT_EQ(r.headers["x-consul-lastcontact"], "0");
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"web":["a","b"]})"));

  json cs = Get("/v1/catalog/service/web");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0]["ServiceID"], "web-1");
  EXPECT_EQ(cs[0]["ServiceName"], "web");
  EXPECT_EQ(cs[0]["ServiceTags"], json::array({"a", "b"}));
  EXPECT_EQ(cs[0]["ServiceAddress"], "10.89.0.5");
  EXPECT_EQ(cs[0]["ServicePort"], 8080);
  EXPECT_EQ(cs[0]["ServiceMeta"]["v"], "1");
  EXPECT_EQ(cs[0]["Node"], "node1");
  EXPECT_EQ(cs[0]["Address"], "10.89.0.1");
  EXPECT_EQ(cs[0]["Datacenter"], "dc1");
  EXPECT_GE(cs[0]["CreateIndex"].get<uint64_t>(), 1u);
  EXPECT_GE(cs[0]["ModifyIndex"].get<uint64_t>(), cs[0]["CreateIndex"].get<uint64_t>());
  // Repeated ?tag= are ANDed.
  EXPECT_EQ(Get("/v1/catalog/service/web?tag=a").size(), 2u);
  EXPECT_EQ(Get("/v1/catalog/service/web?tag=a&tag=b").size(), 1u);
  EXPECT_EQ(Get("/v1/catalog/service/web?tag=a&tag=c").size(), 0u);
  EXPECT_EQ(Get("/v1/catalog/service/nope"), json::array());

  json hs = Get("/v1/health/service/web?tag=b");
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0]["Node"]["Node"], "node1");
  EXPECT_EQ(hs[0]["Node"]["Address"], "10.89.0.1");
  EXPECT_EQ(hs[0]["Service"]["ID"], "web-1");
  EXPECT_EQ(hs[0]["Service"]["Service"], "web");
  EXPECT_EQ(hs[0]["Service"]["Port"], 8080);
  EXPECT_EQ(hs[0]["Service"]["Address"], "10.89.0.5");
  EXPECT_EQ(hs[0]["Checks"], json::array());
  EXPECT_EQ(Get("/v1/health/service/web?passing").size(), 2u);  // no checks: passing

  json as = Get("/v1/agent/services");
  EXPECT_EQ(as["web-1"]["Service"], "web");
  EXPECT_EQ(as["web-2"]["Tags"], json::array({"a"}));
  EXPECT_EQ(Get("/v1/agent/service/web-2")["Address"], "10.89.0.6");
  EXPECT_EQ(Do("GET", "/v1/agent/service/nope").status, 404);

  json node = Get("/v1/catalog/node/node1");
  EXPECT_EQ(node["Node"]["Node"], "node1");
  EXPECT_EQ(node["Services"]["web-1"]["Port"], 8080);
  EXPECT_TRUE(Get("/v1/catalog/node/other").is_null());

  auto d = Do("PUT", "/v1/agent/service/deregister/web-2");
  EXPECT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(Get("/v1/catalog/service/web").size(), 1u);
  d = Do("PUT", "/v1/agent/service/deregister/web-2");
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(d.body, "Unknown service ID \"web-2\". Ensure that the service ID is passed, not the service name.");
}

TEST_F(ConsulApiTest, TtlCheckGoesCriticalToPassingThroughTheApi) {
  Register(R"({"Name":"api","ID":"api-1","Port":9000,"Check":{"CheckID":"api-ttl","TTL":"30s","Notes":"n"}})");
  EXPECT_EQ(Get("/v1/health/service/api?passing"), json::array());
  json all = Get("/v1/health/service/api");
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0]["Checks"].size(), 1u);
  EXPECT_EQ(all[0]["Checks"][0]["CheckID"], "api-ttl");
  EXPECT_EQ(all[0]["Checks"][0]["Status"], "critical");
  EXPECT_EQ(all[0]["Checks"][0]["ServiceID"], "api-1");
  EXPECT_EQ(all[0]["Checks"][0]["Type"], "ttl");
  json crit = Get("/v1/health/state/critical");
  ASSERT_EQ(crit.size(), 1u);
  EXPECT_EQ(crit[0]["CheckID"], "api-ttl");

  auto r = Do("PUT", "/v1/agent/check/pass/api-ttl?note=all%20good");
  ASSERT_EQ(r.status, 200) << r.body;
  json passing = Get("/v1/health/service/api?passing=true");
  ASSERT_EQ(passing.size(), 1u);
  EXPECT_EQ(passing[0]["Checks"][0]["Status"], "passing");
  EXPECT_EQ(passing[0]["Checks"][0]["Output"], "all good");
  EXPECT_EQ(Get("/v1/health/state/critical"), json::array());
  EXPECT_EQ(Get("/v1/health/state/any").size(), 1u);

  r = Do("PUT", "/v1/agent/check/update/api-ttl", R"({"Status":"warning","Output":"slow"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json checks = Get("/v1/health/checks/api");
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0]["Status"], "warning");
  EXPECT_EQ(checks[0]["Output"], "slow");
  EXPECT_EQ(Get("/v1/health/service/api?passing"), json::array());
  EXPECT_EQ(Get("/v1/agent/checks")["api-ttl"]["Status"], "warning");
  EXPECT_EQ(Get("/v1/health/node/node1").size(), 1u);
  EXPECT_EQ(Get("/v1/health/node/other"), json::array());

  r = Do("PUT", "/v1/agent/check/fail/api-ttl");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Get("/v1/health/state/critical").size(), 1u);

  r = Do("PUT", "/v1/agent/check/pass/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Unknown check ID \"nope\". Ensure that the check ID is passed, not the check name.");
  r = Do("PUT", "/v1/agent/check/update/api-ttl", R"({"Status":"fine"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Invalid check status: \"fine\"");

  // A second check registered on its own, then removed.
  r = Do("PUT", "/v1/agent/check/register", R"({"Name":"extra","ServiceID":"api-1","TTL":"10s","Status":"passing"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Get("/v1/agent/checks")["extra"]["Status"], "passing");
  EXPECT_EQ(Do("PUT", "/v1/agent/check/deregister/extra").status, 200);
  EXPECT_FALSE(Get("/v1/agent/checks").contains("extra"));
  EXPECT_EQ(Do("PUT", "/v1/agent/check/deregister/extra").status, 404);
}

TEST_F(ConsulApiTest, ProbedChecksShowTheirDefinition) {
  // Loopback port 1: nothing listens; the checks stay critical.
  Register(R"({"Name":"db","ID":"db-1","Port":5432,"Checks":[
      {"CheckID":"db-tcp","TCP":"127.0.0.1:1","Interval":"7s","Timeout":"2s"},
      {"CheckID":"db-http","HTTP":"http://127.0.0.1:1/health","Header":{"X-A":["1"]}}]})");
  json checks = Get("/v1/agent/checks");
  EXPECT_EQ(checks["db-tcp"]["Type"], "tcp");
  EXPECT_EQ(checks["db-tcp"]["Interval"], "7s");
  EXPECT_EQ(checks["db-tcp"]["Timeout"], "2s");
  EXPECT_EQ(checks["db-tcp"]["Definition"]["TCP"], "127.0.0.1:1");
  EXPECT_EQ(checks["db-http"]["Type"], "http");
  EXPECT_EQ(checks["db-http"]["Definition"]["HTTP"], "http://127.0.0.1:1/health");
  EXPECT_EQ(checks["db-http"]["Definition"]["Header"]["X-A"], json::array({"1"}));
  EXPECT_EQ(checks["db-http"]["ServiceName"], "db");
}

TEST_F(ConsulApiTest, BlockingQueryWakesOnAChange) {
  auto first = Do("GET", "/v1/catalog/services");
  uint64_t index = IndexOf(first);
  ASSERT_GE(index, 1u);
  auto blocked = std::async(std::launch::async, [&] {
    auto r = Do("GET", "/v1/catalog/services?index=" + std::to_string(index) + "&wait=10s");
    return std::make_pair(r, std::chrono::steady_clock::now());
  });
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(blocked.wait_for(0ms), std::future_status::timeout) << "answered without a change";
  Register(R"({"Name":"late","Port":1})");
  auto changed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  auto [r, answered_at] = blocked.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(IndexOf(r), index);
  EXPECT_TRUE(json::parse(r.body).contains("late"));
  // Woken by the change, not by the 10 s wait running out (generous: ASan on a loaded machine).
  EXPECT_LT(answered_at - changed_at, 2s);

  // A change elsewhere (KV) does not wake a services query; health/service wakes on its service.
  uint64_t svc_index = IndexOf(Do("GET", "/v1/health/service/late"));
  auto health = std::async(std::launch::async, [&] {
    return Do("GET", "/v1/health/service/late?index=" + std::to_string(svc_index) + "&wait=10s");
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Do("PUT", "/v1/kv/unrelated", "x").status, 200);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(health.wait_for(0ms), std::future_status::timeout);
  EXPECT_EQ(Do("PUT", "/v1/agent/service/deregister/late").status, 200);
  ASSERT_EQ(health.wait_for(5s), std::future_status::ready);
  auto hr = health.get();
  EXPECT_GT(IndexOf(hr), svc_index);
  EXPECT_EQ(json::parse(hr.body), json::array());
}

TEST_F(ConsulApiTest, BlockingQueryTimesOutAfterWait) {
  auto first = Do("GET", "/v1/health/state/any");
  uint64_t index = IndexOf(first);
  auto start = std::chrono::steady_clock::now();
  auto r = Do("GET", "/v1/health/state/any?index=" + std::to_string(index) + "&wait=400ms");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(IndexOf(r), index);
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 400ms + 400ms / 16 + 2s);  // the 400 ms wait, not a default one (slack for a loaded machine)
  // index=0 never blocks.
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(Do("GET", "/v1/catalog/nodes?index=0&wait=5s").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // vs. the 5 s wait
}

TEST_F(ConsulApiTest, BlockingQueryDoesNotHoldUpServerStop) {
  uint64_t index = IndexOf(Do("GET", "/v1/kv/k?recurse"));
  auto blocked = std::async(std::launch::async, [&] {
    api::UnixHttpClient c(dir_ + "/consul.sock");
    return c.Do("GET", "/v1/kv/k?recurse&index=" + std::to_string(index) + "&wait=10m").has_value();
  });
  std::this_thread::sleep_for(200ms);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // vs. the 10 min wait
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
}

TEST_F(ConsulApiTest, KvPutGetCasRecurseKeysRaw) {
  auto r = Do("PUT", "/v1/kv/app/config/db", "postgres://x");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "true");
  ASSERT_EQ(Do("PUT", "/v1/kv/app/config/cache?flags=42", "redis").body, "true");
  ASSERT_EQ(Do("PUT", "/v1/kv/app/name", "shop").body, "true");
  ASSERT_EQ(Do("PUT", "/v1/kv/other", "").body, "true");

  r = Do("GET", "/v1/kv/app/config/db");
  ASSERT_EQ(r.status, 200);
  EXPECT_GE(IndexOf(r), 1u);
  json e = json::parse(r.body);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["Key"], "app/config/db");
  EXPECT_EQ(e[0]["Value"], "cG9zdGdyZXM6Ly94");
  EXPECT_EQ(e[0]["Flags"], 0);
  EXPECT_EQ(e[0]["LockIndex"], 0);
  uint64_t modify = e[0]["ModifyIndex"];
  EXPECT_EQ(Get("/v1/kv/app/config/cache")[0]["Flags"], 42);
  EXPECT_TRUE(Get("/v1/kv/other")[0]["Value"].is_null());

  r = Do("GET", "/v1/kv/app/config/db?raw");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "postgres://x");

  r = Do("GET", "/v1/kv/missing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "");
  EXPECT_GE(IndexOf(r), 1u);

  // cas=0: only when absent; cas=N: only at that modify index.
  EXPECT_EQ(Do("PUT", "/v1/kv/app/config/db?cas=0", "y").body, "false");
  EXPECT_EQ(Do("PUT", "/v1/kv/app/config/db?cas=" + std::to_string(modify + 1000), "y").body, "false");
  EXPECT_EQ(Do("PUT", "/v1/kv/app/config/db?cas=" + std::to_string(modify), "y").body, "true");
  EXPECT_EQ(Do("GET", "/v1/kv/app/config/db?raw").body, "y");
  EXPECT_EQ(Do("PUT", "/v1/kv/new?cas=0", "1").body, "true");

  json rec = Get("/v1/kv/app/?recurse");
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[0]["Key"], "app/config/cache");
  EXPECT_EQ(rec[2]["Key"], "app/name");
  EXPECT_EQ(Get("/v1/kv/app/?keys"), json::parse(R"(["app/config/cache","app/config/db","app/name"])"));
  EXPECT_EQ(Get("/v1/kv/app/?keys&separator=/"), json::parse(R"(["app/config/","app/name"])"));
  EXPECT_EQ(Get("/v1/kv/?keys&separator=/"), json::parse(R"(["app/","new","other"])"));
  EXPECT_EQ(Do("GET", "/v1/kv/zzz/?keys").status, 404);

  EXPECT_EQ(Do("DELETE", "/v1/kv/app/name?cas=1").body, "false");
  EXPECT_EQ(Do("DELETE", "/v1/kv/app/config?recurse").body, "true");
  EXPECT_EQ(Get("/v1/kv/app/?keys"), json::parse(R"(["app/name"])"));
  EXPECT_EQ(Do("DELETE", "/v1/kv/missing").body, "true");

  // A blocking KV read wakes when its key changes.
  uint64_t index = IndexOf(Do("GET", "/v1/kv/app/name"));
  auto blocked = std::async(std::launch::async, [&] {
    return Do("GET", "/v1/kv/app/name?index=" + std::to_string(index) + "&wait=10s");
  });
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(blocked.wait_for(0ms), std::future_status::timeout);
  EXPECT_EQ(Do("PUT", "/v1/kv/app/name", "mall").body, "true");
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  auto br = blocked.get();
  EXPECT_GT(IndexOf(br), index);
  EXPECT_EQ(json::parse(br.body)[0]["Value"], "bWFsbA==");
}

TEST_F(ConsulApiTest, BadInputAnswersLikeConsul) {
  auto expect = [&](const std::string& method, const std::string& target, const std::string& body, int status,
                    const std::string& text) {
    auto r = Do(method, target, body);
    EXPECT_EQ(r.status, status) << method << " " << target;
    EXPECT_EQ(r.body, text) << method << " " << target;
  };
  expect("GET", "/v1/catalog/services?index=1&wait=soon", "", 400, "Invalid wait time");
  expect("GET", "/v1/catalog/services?index=x", "", 400, "Invalid index");
  expect("GET", "/v1/kv/a?index=-1", "", 400, "Invalid index");
  expect("GET", "/v1/catalog/services?dc=dc2", "", 500, "No path to datacenter");
  expect("GET", "/v1/health/service/web?filter=Service.Port%3D%3D80", "", 400,
         "filter expressions are not supported by moor");
  expect("GET", "/v1/agent/services?filter=x", "", 400, "filter expressions are not supported by moor");
  expect("GET", "/v1/health/service/web?passing=maybe", "", 400, "Invalid value for ?passing");
  expect("GET", "/v1/health/state/bogus", "", 400,
         "Invalid check state: \"bogus\" (want any, passing, warning or critical)");
  expect("GET", "/v1/kv/", "", 400, "Missing key name");
  expect("PUT", "/v1/kv/", "x", 400, "Missing key name");
  expect("PUT", "/v1/kv/a?cas=z", "x", 400, "Invalid cas value \"z\" (want an unsigned integer)");
  expect("PUT", "/v1/kv/a?acquire=s1", "x", 400, "sessions (acquire/release) are not supported by moor");
  expect("PUT", "/v1/kv/a", std::string(512 * 1024 + 1, 'x'), 413,
         "Request body(524289 bytes) too large, max size: 524288 bytes");
  expect("PUT", "/v1/agent/service/register", "{", 400, "Request decode failed: the body is not valid JSON");
  expect("PUT", "/v1/agent/service/register", R"({"Port":1})", 400, "Invalid service: Missing service name");
  expect("PUT", "/v1/agent/service/register", R"({"Name":"a","Check":{"GRPC":"127.0.0.1:1"}})", 400,
         "Invalid service: Check: GRPC checks are not supported by moor (use HTTP, TCP, TTL, FastCGI or Args "
         "with DockerContainerID)");
  // ?dc naming our own datacenter is fine.
  EXPECT_EQ(Do("GET", "/v1/catalog/services?dc=dc1").status, 200);
}

}  // namespace
}  // namespace moor::discovery
