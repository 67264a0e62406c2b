#include <gtest/gtest.h>

#include "discovery/registrar.h"

namespace moor::discovery {
namespace {

ContainerInfo Php() {
  ContainerInfo c;
  c.id = "c0ffee";
  c.name = "php-1";
  c.image_ref = "registry.example:5000/team/php-fpm:8.2";
  c.ip = "10.89.0.7";
  c.tcp_ports = {9000};
  c.status = "running";
  return c;
}

TEST(ServiceNameFromImage, StripsRegistryPathTagAndDigest) {
  EXPECT_EQ(ServiceNameFromImage("registry.example/library/nginx:1.25"), "nginx");
  EXPECT_EQ(ServiceNameFromImage("localhost:5000/a/b/php-fpm@sha256:abcd"), "php-fpm");
  EXPECT_EQ(ServiceNameFromImage("My_App"), "my-app");
  EXPECT_EQ(ServiceNameFromImage(""), "");
}

TEST(PlanFor, DefaultsLikeRegistratorWithATcpCheck) {
  auto p = PlanFor(Php(), "10.89.0.1");
  ASSERT_EQ(p.instances.size(), 1u);
  const auto& s = p.instances[0].service;
  EXPECT_EQ(s.name, "php-fpm");
  EXPECT_EQ(s.id, "php-1:9000");
  EXPECT_EQ(s.address, "10.89.0.7");
  EXPECT_EQ(s.port, 9000);
  EXPECT_EQ(s.source, "container");
  ASSERT_EQ(p.instances[0].checks.size(), 1u);
  EXPECT_EQ(p.instances[0].checks[0].type, "tcp");
  EXPECT_EQ(p.instances[0].checks[0].target, "10.89.0.7:9000");
  EXPECT_TRUE(p.warnings.empty());
}

TEST(PlanFor, SeveralPortsGiveOneServicePerPort) {
  auto c = Php();
  c.tcp_ports = {80, 443};
  auto p = PlanFor(c, "10.89.0.1");
  ASSERT_EQ(p.instances.size(), 2u);
  EXPECT_EQ(p.instances[0].service.name, "php-fpm-80");
  EXPECT_EQ(p.instances[1].service.name, "php-fpm-443");
  c.labels["moor.service.port"] = "443";
  p = PlanFor(c, "10.89.0.1");
  ASSERT_EQ(p.instances.size(), 1u);
  EXPECT_EQ(p.instances[0].service.name, "php-fpm");
  EXPECT_EQ(p.instances[0].service.port, 443);
}

TEST(PlanFor, LabelsSetNameTagsMetaCheckAndDrain) {
  auto c = Php();
  c.labels = {{"moor.service", "php"},
              {"moor.service.tags", "api, v2 ,"},
              {"moor.service.meta.group", "orders"},
              {"moor.service.drain", "1500ms"},
              {"moor.check", "fastcgi:/fpm-ping"},
              {"moor.check.interval", "1s"},
              {"moor.check.failures_before_critical", "3"},
              {"moor.check.body", "pong"}};
  auto p = PlanFor(c, "10.89.0.1");
  ASSERT_EQ(p.instances.size(), 1u);
  const auto& s = p.instances[0].service;
  EXPECT_EQ(s.name, "php");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"api", "v2"}));
  EXPECT_EQ(s.meta.at("group"), "orders");
  EXPECT_EQ(s.meta.at("container"), "php-1");
  EXPECT_EQ(p.drain_ns, 1'500'000'000);
  const auto& chk = p.instances[0].checks.at(0);
  EXPECT_EQ(chk.type, "fastcgi");
  EXPECT_EQ(chk.target, "10.89.0.7:9000");
  EXPECT_EQ(chk.path, "/fpm-ping");
  EXPECT_EQ(chk.interval_ns, 1'000'000'000);
  EXPECT_EQ(chk.failures_before_critical, 3);
  EXPECT_EQ(chk.body_match, "pong");
  c.labels.erase("moor.check.failures_before_critical");
  EXPECT_EQ(PlanFor(c, "").instances.at(0).checks.at(0).failures_before_critical, 3)
      << "fastcgi checks tolerate two late pings by default";
  EXPECT_EQ(chk.id, "service:php-1:9000");
}

TEST(PlanFor, HealthcheckMeansDockerCheckAndNoneMeansNoCheck) {
  auto c = Php();
  c.has_healthcheck = true;
  EXPECT_EQ(PlanFor(c, "").instances.at(0).checks.at(0).type, "docker");
  c.labels["moor.check"] = "none";
  EXPECT_TRUE(PlanFor(c, "").instances.at(0).checks.empty());
  c.labels["moor.check"] = "exec:test -f /ready";
  auto chk = PlanFor(c, "").instances.at(0).checks.at(0);
  EXPECT_EQ(chk.type, "exec");
  EXPECT_EQ(chk.args, (std::vector<std::string>{"/bin/sh", "-c", "test -f /ready"}));
  EXPECT_EQ(chk.container_id, "c0ffee");
}

TEST(PlanFor, HostNetworkUsesTheNodeAddress) {
  auto c = Php();
  c.ip.clear();
  c.host_network = true;
  auto p = PlanFor(c, "10.89.0.1");
  ASSERT_EQ(p.instances.size(), 1u);
  EXPECT_EQ(p.instances[0].service.address, "10.89.0.1");
  EXPECT_EQ(p.instances[0].checks[0].target, "127.0.0.1:9000");
}

TEST(PlanFor, NothingWithoutAddressPortsOrWhenIgnored) {
  auto c = Php();
  c.tcp_ports.clear();
  EXPECT_TRUE(PlanFor(c, "").instances.empty());
  c = Php();
  c.ip.clear();
  EXPECT_TRUE(PlanFor(c, "").instances.empty());
  c = Php();
  c.labels["moor.service.ignore"] = "true";
  c.labels["moor.template.up"] = "/a.ctmpl:/b.conf";
  auto p = PlanFor(c, "");
  EXPECT_TRUE(p.instances.empty());
  EXPECT_EQ(p.templates.size(), 1u) << "a container that provides no service still renders its templates";
}

TEST(PlanFor, BadLabelsWarnAndFallBack) {
  auto c = Php();
  c.labels = {{"moor.check", "smoke-signals"}, {"moor.check.interval", "soon"}, {"moor.service.drain", "-1"}};
  auto p = PlanFor(c, "");
  ASSERT_EQ(p.instances.size(), 1u);
  EXPECT_EQ(p.instances[0].checks[0].type, "tcp");
  EXPECT_EQ(p.warnings.size(), 3u);
  c.labels = {{"moor.service.port", "http"}};
  p = PlanFor(c, "");
  EXPECT_TRUE(p.instances.empty());
  EXPECT_EQ(p.warnings.size(), 1u);
}

TEST(PlanFor, TemplatesFromLabels) {
  auto c = Php();
  c.labels = {{"moor.template.upstream", "/moor/upstream.ctmpl:/etc/nginx/upstream.conf"},
              {"moor.template.upstream.wait", "100ms:1s"},
              {"moor.template.bad", "relative:/x"},
              {"moor.reload.signal", "USR2"}};
  auto p = PlanFor(c, "");
  ASSERT_EQ(p.templates.size(), 1u);
  const auto& t = p.templates[0];
  EXPECT_EQ(t.id, "c0ffee:upstream");
  EXPECT_EQ(t.source_path, "/moor/upstream.ctmpl");
  EXPECT_EQ(t.dest_path, "/etc/nginx/upstream.conf");
  EXPECT_EQ(t.reload_signal, "USR2");
  EXPECT_EQ(t.wait_min_ns, 100'000'000);
  EXPECT_EQ(t.wait_max_ns, 1'000'000'000);
  EXPECT_EQ(p.warnings.size(), 1u);
}

}  // namespace
}  // namespace moor::discovery
