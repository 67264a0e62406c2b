// moor service / moor kv against a fake daemon serving the /v1 endpoints
// (api::HttpServer on a unix socket in a private temp dir): the requests
// they send and what they print.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "cli/fake_daemon_fixture.h"
#include "cli/context.h"
#include "cli/table.h"
#include "common/file.h"

namespace moor::cli {
namespace {

using nlohmann::json;

using Seen = testing::Seen;
class DiscoveryCliTest : public testing::FakeDaemonFixture {};

void Ok(api::ResponseWriter& w) { w.Send(api::Response{200, {}, ""}); }

TEST_F(DiscoveryCliTest, ServiceRegisterSendsAConsulDefinition) {
  Handle("PUT", "/v1/agent/service/register", [](const api::Request&, api::ResponseWriter& w) { Ok(w); });
  Start();
  std::string out;
  auto rc = Run(CmdServiceRegister,
                {"--name", "php", "--id", "php-1", "--address", "10.89.0.7", "--port", "9000", "--tag", "a",
                 "--tag", "b", "--meta", "v=2", "--check-fastcgi", "10.89.0.7:9000/ping", "--interval", "5s",
                 "--deregister-after", "1m"},
                &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "Registered service: php-1\n");
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({"Name":"php","ID":"php-1","Address":"10.89.0.7",
      "Port":9000,"Tags":["a","b"],"Meta":{"v":"2"},
      "Check":{"FastCGI":"10.89.0.7:9000","FastCGIPath":"/ping","Interval":"5s",
               "DeregisterCriticalServiceAfter":"1m"}})"));

  rc = Run(CmdServiceRegister, {"--port", "80"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "service register: --name is required (or give -f FILE.json)");
  rc = Run(CmdServiceRegister, {"--name", "a", "--check-tcp", "1.2.3.4:1", "--check-ttl", "10s"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(),
            "service register: give at most one of --check-tcp, --check-http, --check-fastcgi, --check-ttl");
  rc = Run(CmdServiceRegister, {"--name", "a", "--check-ttl", "soon"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "service register: --check-ttl \"soon\": want a duration like 10s");

  // -f FILE in Consul's format (wrapped in "service" as Consul's config files).
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/svc.json", R"({"service": {"name": "web", "port": 80}})"));
  rc = Run(CmdServiceRegister, {"-f", dir_ + "/svc.json"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "Registered service: web\n");
  EXPECT_EQ(json::parse(Seen_().back().body), json::parse(R"({"name":"web","port":80})"));
}

TEST_F(DiscoveryCliTest, ServiceLsCountsPassingInstances) {
  Handle("GET", "/v1/catalog/services", [](const api::Request&, api::ResponseWriter& w) {
    w.SendJson(200, R"({"php":["v1","blue"],"redis":[]})");
  });
  Handle("GET", "/v1/health/service/{name}", [](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("name") == "php") {
      w.SendJson(200, R"([{"Service":{"ID":"a"},"Checks":[{"Status":"passing"}]},
                          {"Service":{"ID":"b"},"Checks":[{"Status":"passing"},{"Status":"critical"}]}])");
    } else {
      w.SendJson(200, R"([{"Service":{"ID":"r"},"Checks":[]}])");
    }
  });
  Handle("PUT", "/v1/agent/service/deregister/{id}", [](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("id") == "nope") {
      return w.Send(api::Response{404, {}, "Unknown service ID \"nope\". Ensure that the service ID is passed, not "
                                           "the service name."});
    }
    Ok(w);
  });
  Start();
  std::string out;
  auto rc = Run(CmdServiceLs, {}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  Table t({"NAME", "INSTANCES", "TAGS"});
  t.Add({"php", "1/2", "v1,blue"});
  t.Add({"redis", "1/1", ""});
  EXPECT_EQ(out, t.Render());
  rc = Run(CmdServiceLs, {"--format", "json"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(json::parse(out.substr(0, out.find('\n')))["Instances"], "1/2");

  rc = Run(CmdServiceInspect, {"php"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(json::parse(out).size(), 2u);

  rc = Run(CmdServiceDeregister, {"php-1"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "Deregistered service: php-1\n");
  rc = Run(CmdServiceDeregister, {"nope"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(),
            "service deregister: Unknown service ID \"nope\". Ensure that the service ID is passed, not the service "
            "name.");
}

TEST_F(DiscoveryCliTest, KvCommands) {
  Handle("GET", "/v1/kv/{key*}", [](const api::Request& r, api::ResponseWriter& w) {
    std::string key = r.Param("key");
    if (key == "missing" || key == "empty/") return w.Send(api::Response{404, {}, ""});
    if (r.Query("raw")) return w.Send(api::Response{200, {}, "hello world"});
    if (r.Query("keys")) return w.SendJson(200, R"(["app/config/","app/name"])");
    w.SendJson(200, R"([{"Key":"app/a","Value":"aGk=","Flags":3,"CreateIndex":5,"ModifyIndex":7,"LockIndex":0},
                        {"Key":"app/b","Value":null,"Flags":0,"CreateIndex":6,"ModifyIndex":6,"LockIndex":0}])");
  });
  Handle("PUT", "/v1/kv/{key*}", [](const api::Request& r, api::ResponseWriter& w) {
    w.SendJson(200, r.Query("cas") == "1" ? "false" : "true");
  });
  Handle("DELETE", "/v1/kv/{key*}", [](const api::Request&, api::ResponseWriter& w) { w.SendJson(200, "true"); });
  Start();
  std::string out;
  auto rc = Run(CmdKvGet, {"app/name"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "hello world\n");
  EXPECT_EQ(Seen_().back().target, "/v1/kv/app/name?raw");
  rc = Run(CmdKvGet, {"missing"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "kv get: no key \"missing\"");
  rc = Run(CmdKvGet, {"app/", "--recurse"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "app/a:hi\napp/b:\n");
  rc = Run(CmdKvGet, {"app/a", "--detailed"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_NE(out.find("ModifyIndex     7\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Value           hi\n"), std::string::npos) << out;

  rc = Run(CmdKvPut, {"app/name", "shop", "--flags", "4"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "Success! Data written to: app/name\n");
  EXPECT_EQ(Seen_().back().target, "/v1/kv/app/name?flags=4");
  EXPECT_EQ(Seen_().back().body, "shop");
  rc = Run(CmdKvPut, {"app/name", "x", "--cas", "1"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("was not written"), std::string::npos);
  rc = Run(CmdKvPut, {"app/name", "x", "--cas", "-3"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "kv put: --cas \"-3\": want a non-negative integer");

  rc = Run(CmdKvRm, {"app", "--recurse"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(Seen_().back().target, "/v1/kv/app?recurse");
  EXPECT_EQ(out, "Success! Deleted keys with prefix: app\n");

  rc = Run(CmdKvLs, {"app/"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "app/config/\napp/name\n");
  EXPECT_EQ(Seen_().back().target, "/v1/kv/app/?keys&separator=/");
  rc = Run(CmdKvLs, {"empty/"}, &out);
  ASSERT_TRUE(rc);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace moor::cli
