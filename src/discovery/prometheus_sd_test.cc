#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "discovery/prometheus_sd.h"

namespace moor::discovery {
namespace {

TEST(PrometheusSd, ListsUsableInstancesWithMetaLabels) {
  Node n;
  n.name = "node1";
  Catalog cat(n);
  auto add = [&](const std::string& id, const std::string& name, const std::string& addr, Health h) {
    ServiceInstance s;
    s.id = id;
    s.name = name;
    s.address = addr;
    s.port = 9100;
    s.tags = {"metrics"};
    s.meta = {{"group.name", "orders"}};
    CheckDef c;
    c.id = "check:" + id;
    c.type = "ttl";
    c.initial = h;
    ASSERT_TRUE(cat.Register(s, {c}));
  };
  add("a", "app", "10.89.0.2", Health::kPassing);
  add("b", "app", "10.89.0.3", Health::kCritical);
  add("c", "db", "10.89.0.4", Health::kWarning);
  auto all = nlohmann::json::parse(PrometheusTargets(cat, "", ""));
  ASSERT_EQ(all.size(), 2u);  // the critical one is left out
  auto app = nlohmann::json::parse(PrometheusTargets(cat, "app", ""));
  ASSERT_EQ(app.size(), 1u);
  EXPECT_EQ(app[0]["targets"][0], "10.89.0.2:9100");
  EXPECT_EQ(app[0]["labels"]["__meta_moor_service"], "app");
  EXPECT_EQ(app[0]["labels"]["__meta_moor_tags"], ",metrics,");
  EXPECT_EQ(app[0]["labels"]["__meta_moor_service_meta_group_name"], "orders");
  EXPECT_EQ(app[0]["labels"]["__meta_moor_node"], "node1");
  EXPECT_TRUE(nlohmann::json::parse(PrometheusTargets(cat, "app", "other")).empty());
}

}  // namespace
}  // namespace moor::discovery
