#include "app/container_body.h"

#include <gtest/gtest.h>

#include "app/app_backend.h"
#include "app/code_release.h"
#include "app/app_test_fixture.h"
#include "common/strings.h"

namespace moor::app {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

class ContainerBodyTest : public AppDirTest {
 protected:
  json Body(const AppFile& app, const std::string& service, int replica = 1) {
    return ContainerBody(app, app.services.at(service), replica, "d1g35t");
  }
};

// A service using every field the body carries.
constexpr const char* kFull = R"(name: shop
services:
  php:
    image: moor/php-fpm:8.2
    command: php-fpm8.2 -F
    entrypoint: ["/init", "--"]
    environment: {B: two, A: "1"}
    expose: [9000]
    ports:
      - "8080:80"
      - "127.0.0.1:8443:443"
      - "53/udp"
    volumes:
      - data:/data
      - ./code:/var/www:ro
      - /anon
      - type: tmpfs
        target: /run
        tmpfs: {size: 64m}
    tmpfs: /scratch
    resources: {memory: 256m, cpus: 1.5, pids: 200}
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
      timeout: 1s
      start_period: 3s
      retries: 4
    stop_signal: QUIT
    stop_grace_period: 1500ms
    restart: on-failure:3
    networks:
      back: {aliases: [fpm], ipv4_address: 10.89.7.10}
    labels: {team: web, moor.app: not-this}
    hostname: php
    user: www-data
    working_dir: /var/www
    service:
      name: php-api
      port: 9000
      tags: [api]
    templates:
      - {source: pool.ctmpl, destination: /etc/php/pool.conf}
volumes:
  data:
    name: shop-data-real
networks:
  back:
    ipam:
      config:
        - subnet: 10.89.7.0/24
)";

TEST_F(ContainerBodyTest, FullService) {
  Write("pool.ctmpl", "listen = 9000\n");
  Write("code/index.php", "<?php\n");
  AppFile app = ParseOk(kFull);
  ASSERT_TRUE(app.services.contains("php"));
  json b = Body(app, "php", 2);

  EXPECT_EQ(b["Image"], "moor/php-fpm:8.2");
  EXPECT_EQ(b["Cmd"], (Strings{"php-fpm8.2", "-F"}));
  EXPECT_EQ(b["Entrypoint"], (Strings{"/init", "--"}));
  EXPECT_EQ(b["Env"], (Strings{"A=1", "B=two"}));
  EXPECT_EQ(b["Hostname"], "php");
  EXPECT_EQ(b["User"], "www-data");
  EXPECT_EQ(b["WorkingDir"], "/var/www");
  EXPECT_EQ(b["StopSignal"], "SIGQUIT");
  EXPECT_EQ(b["StopTimeout"], 2);  // 1.5s rounded up

  // Ports: exposed = expose + every target; bindings by target.
  json exposed = b["ExposedPorts"];
  EXPECT_EQ(exposed.size(), 4u) << exposed.dump();
  for (const char* k : {"9000/tcp", "80/tcp", "443/tcp", "53/udp"}) EXPECT_TRUE(exposed.contains(k)) << k;
  const json& h = b["HostConfig"];
  EXPECT_EQ(h["PortBindings"]["80/tcp"], json::parse(R"([{"HostIp":"","HostPort":"8080"}])"));
  EXPECT_EQ(h["PortBindings"]["443/tcp"], json::parse(R"([{"HostIp":"127.0.0.1","HostPort":"8443"}])"));
  EXPECT_EQ(h["PortBindings"]["53/udp"], json::parse(R"([{"HostIp":"","HostPort":""}])"));

  // Resources and restart.
  EXPECT_EQ(h["Memory"], 256 << 20);
  EXPECT_EQ(h["NanoCpus"], 1'500'000'000);
  EXPECT_EQ(h["PidsLimit"], 200);
  EXPECT_EQ(h["RestartPolicy"], json::parse(R"({"Name":"on-failure","MaximumRetryCount":3})"));
  EXPECT_FALSE(h.contains("Binds"));

  // Health check in ns.
  EXPECT_EQ(b["Healthcheck"], json::parse(R"({"Test":["CMD","true"],"Interval":2000000000,
      "Timeout":1000000000,"StartPeriod":3000000000,"Retries":4})"));

  // Volumes of each kind, in the file's order (tmpfs: entries last).
  const json& m = h["Mounts"];
  ASSERT_EQ(m.size(), 5u) << m.dump();
  EXPECT_EQ(m[0], json::parse(R"({"Type":"volume","Source":"shop-data-real","Target":"/data","ReadOnly":false})"));
  EXPECT_EQ(m[1]["Type"], "bind");
  EXPECT_EQ(m[1]["Source"], dir_ + "/code");
  EXPECT_EQ(m[1]["Target"], "/var/www");
  EXPECT_EQ(m[1]["ReadOnly"], true);
  EXPECT_EQ(m[2], json::parse(R"({"Type":"volume","Source":"","Target":"/anon","ReadOnly":false})"));
  EXPECT_EQ(m[3], json::parse(R"({"Type":"tmpfs","Target":"/run","ReadOnly":false,
      "TmpfsOptions":{"SizeBytes":67108864}})"));
  EXPECT_EQ(m[4], json::parse(R"({"Type":"tmpfs","Target":"/scratch","ReadOnly":false})"));

  // Network: mode and endpoint by real name, aliases, address.
  EXPECT_EQ(h["NetworkMode"], "shop_back");
  EXPECT_EQ(b["NetworkingConfig"]["EndpointsConfig"]["shop_back"],
            json::parse(R"({"Aliases":["php","shop-php-2","fpm"],"IPAMConfig":{"IPv4Address":"10.89.7.10"}})"));

  // Labels: the file's, discovery's, templates', and the app's winning.
  auto labels = b["Labels"].get<std::map<std::string, std::string>>();
  EXPECT_EQ(labels.at("team"), "web");
  EXPECT_EQ(labels.at("moor.service"), "php-api");
  EXPECT_EQ(labels.at("moor.service.port"), "9000");
  EXPECT_EQ(labels.at("moor.service.tags"), "api");
  EXPECT_EQ(labels.at("moor.template.t1"), std::string(kTemplateDir) + "/1-pool.ctmpl:/etc/php/pool.conf");
  EXPECT_TRUE(labels.contains("moor.template.t1.wait"));
  EXPECT_EQ(labels.at("moor.reload.signal"), "HUP");
  EXPECT_EQ(labels.at(kLabelApp), "shop");
  EXPECT_EQ(labels.at(kLabelService), "php");
  EXPECT_EQ(labels.at(kLabelReplica), "2");
  EXPECT_EQ(labels.at(kLabelDigest), "d1g35t");
  EXPECT_EQ(labels.at(kLabelFile), dir_ + "/moor.yaml");
}

TEST_F(ContainerBodyTest, MinimalServiceLeavesTheImageDefaults) {
  AppFile app = ParseOk("name: shop\nservices:\n  web:\n    image: moor/nginx:1.22\n");
  json b = Body(app, "web");
  for (const char* k : {"Cmd", "Entrypoint", "Healthcheck", "StopSignal", "ExposedPorts", "Hostname", "User",
                        "WorkingDir"})
    EXPECT_FALSE(b.contains(k)) << k;
  EXPECT_EQ(b["Env"], json::array());
  EXPECT_EQ(b["StopTimeout"], 10);
  const json& h = b["HostConfig"];
  for (const char* k : {"Memory", "NanoCpus", "PidsLimit", "PortBindings"}) EXPECT_FALSE(h.contains(k)) << k;
  EXPECT_EQ(h["Mounts"], json::array());
  EXPECT_EQ(h["RestartPolicy"], json::parse(R"({"Name":"no","MaximumRetryCount":0})"));
  EXPECT_EQ(h["NetworkMode"], "shop_default");
  EXPECT_EQ(b["NetworkingConfig"]["EndpointsConfig"]["shop_default"],
            json::parse(R"({"Aliases":["web","shop-web-1"]})"));
  // No service block: registered under the service's key.
  auto labels = b["Labels"].get<std::map<std::string, std::string>>();
  EXPECT_EQ(labels.at("moor.service"), "web");
  EXPECT_FALSE(labels.contains("moor.reload.signal"));
  EXPECT_EQ(labels.size(), 6u) << b["Labels"].dump();
}

TEST_F(ContainerBodyTest, UserLabelOverridesTheDefaultServiceName) {
  AppFile app = ParseOk("name: shop\nservices:\n  web:\n    image: nginx\n    labels: {moor.service: www}\n");
  EXPECT_EQ(Body(app, "web")["Labels"]["moor.service"], "www");
}

TEST_F(ContainerBodyTest, TemplatesWithoutServiceBlock) {
  Write("site.ctmpl", "x");
  AppFile app = ParseOk(R"(name: shop
services:
  web:
    image: nginx
    reload_signal: USR1
    templates:
      - {source: site.ctmpl, destination: /etc/nginx/site.conf, wait: "1s:5s"}
)");
  auto labels = Body(app, "web")["Labels"].get<std::map<std::string, std::string>>();
  EXPECT_EQ(labels.at("moor.service"), "web");
  EXPECT_EQ(labels.at("moor.template.t1"), std::string(kTemplateDir) + "/1-site.ctmpl:/etc/nginx/site.conf");
  EXPECT_EQ(labels.at("moor.template.t1.wait"), "1s:5s");
  EXPECT_EQ(labels.at("moor.reload.signal"), "USR1");
}

TEST_F(ContainerBodyTest, HealthcheckDisable) {
  AppFile app = ParseOk("name: shop\nservices:\n  web:\n    image: nginx\n    healthcheck: {disable: true}\n");
  EXPECT_EQ(Body(app, "web")["Healthcheck"], json::parse(R"({"Test":["NONE"]})"));
}

TEST_F(ContainerBodyTest, RestartWithoutRetries) {
  AppFile app = ParseOk("name: shop\nservices:\n  web:\n    image: nginx\n    restart: always\n");
  EXPECT_EQ(Body(app, "web")["HostConfig"]["RestartPolicy"],
            json::parse(R"({"Name":"always","MaximumRetryCount":0})"));
}

TEST_F(ContainerBodyTest, NetworksWithAliases) {
  AppFile app = ParseOk(R"(name: shop
services:
  web:
    image: nginx
    networks:
      front: {aliases: [www, web]}
  api:
    image: nginx
    networks: [back]
networks:
  front:
    name: edge
  back:
    external: true
    name: corp-back
)");
  json b = Body(app, "web", 3);
  EXPECT_EQ(b["HostConfig"]["NetworkMode"], "edge");  // the real name
  const json& eps = b["NetworkingConfig"]["EndpointsConfig"];
  ASSERT_EQ(eps.size(), 1u) << eps.dump();
  EXPECT_EQ(eps["edge"]["Aliases"], (Strings{"web", "shop-web-3", "www"}));  // no duplicates
  EXPECT_FALSE(eps["edge"].contains("IPAMConfig"));
  json a = Body(app, "api", 1);
  EXPECT_EQ(a["HostConfig"]["NetworkMode"], "corp-back");
  EXPECT_EQ(a["NetworkingConfig"]["EndpointsConfig"]["corp-back"]["Aliases"], (Strings{"api", "shop-api-1"}));
}

// ---- code: (moor deploy)

constexpr const char* kCode = R"(name: shop
services:
  php:
    image: moor/php-fpm:8.2
    environment: {MOOR_RELEASE: "from-the-file", A: "1"}
    volumes: ["/tmp:/tmp/host"]
    code: {source: ./src}
  api:
    image: moor/php-fpm:8.2
    code: {source: ./src, strategy: rolling, path: /srv/www}
  web:
    image: moor/nginx:1.22
    code: {from: api}
  plain:
    image: nginx
)";

const json kReleasesBind =
    json::parse(R"({"Type":"bind","Source":"/var/lib/moor/deploy/releases/shop/php","Target":"/srv/releases",
                    "ReadOnly":true})");

TEST_F(ContainerBodyTest, ReloadCodeMountsReleasesAndPointsAtCurrent) {
  Write("src/index.php", "<?php\n");
  AppFile app = ParseOk(kCode);
  CodeBinding code{"/var/lib/moor/deploy/releases/shop/php", 7};  // the release does not pin reload containers
  json b = ContainerBody(app, app.services.at("php"), 1, "d1g35t", code);
  const json& m = b["HostConfig"]["Mounts"];
  ASSERT_EQ(m.size(), 2u) << m.dump();
  EXPECT_EQ(m[0]["Target"], "/tmp/host");  // the file's volumes first
  EXPECT_EQ(m[1], kReleasesBind);
  EXPECT_EQ(b["Env"], (Strings{"A=1", "MOOR_CODE=/srv/releases/current", "MOOR_RELEASE=from-the-file"}));
  auto labels = b["Labels"].get<std::map<std::string, std::string>>();
  EXPECT_FALSE(labels.contains(kLabelRelease));
  EXPECT_FALSE(labels.contains(kLabelReleaseMeta));
  EXPECT_EQ(labels.at(kLabelDigest), "d1g35t");
}

TEST_F(ContainerBodyTest, RollingCodePinsTheContainerToItsRelease) {
  Write("src/index.php", "<?php\n");
  AppFile app = ParseOk(kCode);
  const std::string dir = "/var/lib/moor/deploy/releases/shop/api";
  json b = ContainerBody(app, app.services.at("api"), 3, "d1g35t", CodeBinding{dir, 42});
  const json& m = b["HostConfig"]["Mounts"];
  ASSERT_EQ(m.size(), 2u) << m.dump();
  EXPECT_EQ(m[0], json({{"Type", "bind"}, {"Source", dir}, {"Target", "/srv/releases"}, {"ReadOnly", true}}));
  EXPECT_EQ(m[1], json({{"Type", "bind"}, {"Source", dir + "/42"}, {"Target", "/srv/www"}, {"ReadOnly", true}}));
  EXPECT_EQ(b["Env"], (Strings{"MOOR_RELEASE=42"}));
  auto labels = b["Labels"].get<std::map<std::string, std::string>>();
  EXPECT_EQ(labels.at("moor.release"), "42");
  EXPECT_EQ(labels.at("moor.service.meta.moor-release"), "42");
  EXPECT_EQ(labels.at(kLabelReplica), "3");

  // No release yet (the first up, or a body PinRelease pins later): only the
  // releases directory.
  json first = ContainerBody(app, app.services.at("api"), 1, "d1g35t", CodeBinding{dir, 0});
  ASSERT_EQ(first["HostConfig"]["Mounts"].size(), 1u);
  EXPECT_EQ(first["Env"], json::array());
  EXPECT_FALSE(first["Labels"].contains("moor.release"));
}

TEST_F(ContainerBodyTest, FromServiceMountsTheOtherServicesReleasesOnly) {
  Write("src/index.php", "<?php\n");
  AppFile app = ParseOk(kCode);
  const std::string dir = "/var/lib/moor/deploy/releases/shop/api";  // api's, not web's
  json b = ContainerBody(app, app.services.at("web"), 1, "d1g35t", CodeBinding{dir, 42});
  const json& m = b["HostConfig"]["Mounts"];
  ASSERT_EQ(m.size(), 1u) << m.dump();
  EXPECT_EQ(m[0], json({{"Type", "bind"}, {"Source", dir}, {"Target", "/srv/releases"}, {"ReadOnly", true}}));
  EXPECT_EQ(b["Env"], (Strings{"MOOR_CODE=/srv/releases/current"}));
  EXPECT_FALSE(b["Labels"].contains("moor.release"));
}

TEST_F(ContainerBodyTest, CodeBindingIgnoredWithoutCodeAndCodeWithoutBinding) {
  Write("src/index.php", "<?php\n");
  AppFile app = ParseOk(kCode);
  // A service without code: the binding changes nothing.
  json plain = ContainerBody(app, app.services.at("plain"), 1, "d", CodeBinding{"/x", 3});
  EXPECT_EQ(plain, ContainerBody(app, app.services.at("plain"), 1, "d"));
  EXPECT_EQ(plain["HostConfig"]["Mounts"], json::array());
  // Existing callers (no binding) get the body they always got.
  json api = ContainerBody(app, app.services.at("api"), 1, "d");
  EXPECT_EQ(api["HostConfig"]["Mounts"], json::array());
  EXPECT_EQ(api["Env"], json::array());
}

TEST_F(ContainerBodyTest, AppObjectLabels) {
  AppFile app = ParseOk("name: shop\nservices:\n  web:\n    image: nginx\n");
  auto l = AppObjectLabels(app);
  EXPECT_EQ(l, (std::map<std::string, std::string>{{"moor.app", "shop"}, {"moor.app.file", dir_ + "/moor.yaml"}}));
}

TEST_F(ContainerBodyTest, Digest) {
  AppFile app = ParseOk("name: shop\nservices:\n  web:\n    image: nginx\n    environment: {A: '1'}\n");
  ServiceSpec s = app.services.at("web");
  const std::string base = ContainerDigest(s, "sha256:aaa", {"tmpl"});
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(base.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ContainerDigest(s, "sha256:aaa", {"tmpl"}), base);  // stable

  EXPECT_NE(ContainerDigest(s, "sha256:bbb", {"tmpl"}), base);   // image id
  EXPECT_NE(ContainerDigest(s, "sha256:aaa", {"tmpl2"}), base);  // template content
  EXPECT_NE(ContainerDigest(s, "sha256:aaa", {}), base);
  // Concatenations do not collide.
  EXPECT_NE(ContainerDigest(s, "sha256:aaa", {"ab", "c"}), ContainerDigest(s, "sha256:aaa", {"a", "bc"}));
  EXPECT_NE(ContainerDigest(s, "sha256:aaa", {"", ""}), ContainerDigest(s, "sha256:aaa", {""}));
  EXPECT_NE(ContainerDigest(s, "x", {"y"}), ContainerDigest(s, "xy", {""}));

  ServiceSpec env = s;
  env.environment["A"] = "2";
  EXPECT_NE(ContainerDigest(env, "sha256:aaa", {"tmpl"}), base);

  ServiceSpec scaled = s;
  scaled.replicas = 5;
  scaled.profiles = {"debug"};
  EXPECT_EQ(ContainerDigest(scaled, "sha256:aaa", {"tmpl"}), base);

  // The same through the file.
  AppFile app5 = ParseOk("name: shop\nservices:\n  web:\n    image: nginx\n    environment: {A: '1'}\n"
                         "    replicas: 5\n");
  EXPECT_EQ(ContainerDigest(app5.services.at("web"), "sha256:aaa", {"tmpl"}), base);
}

}  // namespace
}  // namespace moor::app
