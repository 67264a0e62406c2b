// The release gate as the Consul API serves it: /v1/health/service and
// /v1/catalog/service show only the live release, and a blocking query on
// the service wakes when the gate moves. A real HttpServer on a unix socket.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>

#include "api/http_client.h"
#include "common/file.h"
#include "discovery/agent.h"
#include "discovery/catalog.h"
#include "discovery/consul_api.h"

namespace moor::discovery {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class CatalogGateApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-gate-test.XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir_ = tmpl;
    catalog_ = std::make_unique<Catalog>(Node{"id1", "node1", "10.0.0.1", "dc1", {}});
    agent_ = std::make_unique<Agent>(*catalog_, nullptr);
    AddConsulRoutes(router_, *agent_);
    auto fd = api::ListenUnix(dir_ + "/consul.sock", 0600);
    ASSERT_TRUE(fd) << fd.error().message();
    server_ = std::make_unique<api::HttpServer>(std::move(*fd), router_);
    server_->Start();
    for (int i = 1; i <= 2; ++i) {
      ServiceInstance s;
      s.id = "php-" + std::to_string(i);
      s.name = "php";
      s.address = "10.0.0." + std::to_string(i + 1);
      s.port = 9000;
      s.meta[Catalog::kReleaseMeta] = std::to_string(i);
      ASSERT_TRUE(catalog_->Register(s, {}));  // no checks: passing
    }
  }
  void TearDown() override {
    server_.reset();
    agent_.reset();
    catalog_.reset();
    (void)RemoveAll(dir_);
  }
  api::Response Get(const std::string& target) {
    api::UnixHttpClient c(dir_ + "/consul.sock");
    auto r = c.Do("GET", target, "");
    EXPECT_TRUE(r) << target << ": " << r.error().message();
    return r ? *r : api::Response{0, {}, ""};
  }
  static uint64_t IndexOf(const api::Response& r) {
    auto it = r.headers.find("x-consul-index");
    return it == r.headers.end() ? 0 : std::stoull(it->second);
  }
  // The service ids in a /v1/health/service or /v1/catalog/service answer.
  static std::vector<std::string> Ids(const api::Response& r) {
    std::vector<std::string> out;
    for (const auto& e : json::parse(r.body)) {
      out.push_back(e.contains("Service") ? e["Service"]["ID"].get<std::string>() : e["ServiceID"].get<std::string>());
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Agent> agent_;
  api::Router router_;
  std::unique_ptr<api::HttpServer> server_;
};

using V = std::vector<std::string>;

TEST_F(CatalogGateApiTest, HealthAndCatalogEndpointsAreGated) {
  EXPECT_EQ(Ids(Get("/v1/health/service/php")), (V{"php-1", "php-2"}));
  ASSERT_TRUE(catalog_->SetReleaseGate("php", "2"));
  EXPECT_EQ(Ids(Get("/v1/health/service/php")), V{"php-2"});
  EXPECT_EQ(Ids(Get("/v1/health/service/php?passing")), V{"php-2"});
  EXPECT_EQ(Ids(Get("/v1/catalog/service/php")), V{"php-2"});
  // The agent's own list is not a routing view: every instance stays.
  auto agent = json::parse(Get("/v1/agent/services").body);
  EXPECT_TRUE(agent.contains("php-1"));
  EXPECT_TRUE(agent.contains("php-2"));
}

TEST_F(CatalogGateApiTest, BlockingHealthQueryWakesWhenTheGateMoves) {
  auto first = Get("/v1/health/service/php");
  const uint64_t index = IndexOf(first);
  ASSERT_GE(index, 1u);
  auto blocked = std::async(std::launch::async,
                            [&] { return Get("/v1/health/service/php?index=" + std::to_string(index) + "&wait=10s"); });
  ASSERT_EQ(blocked.wait_for(300ms), std::future_status::timeout) << "answered without a change";
  auto idx = catalog_->SetReleaseGate("php", "1");
  ASSERT_TRUE(idx);
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  auto r = blocked.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(IndexOf(r), *idx);
  EXPECT_EQ(Ids(r), V{"php-1"});
}

}  // namespace
}  // namespace moor::discovery
