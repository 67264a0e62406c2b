#include "app/app_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "app/app_test_fixture.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::app {
namespace {

class AppFileTest : public AppDirTest {
 protected:
  // "LINE:COL: message — hint" of every error, the file name left out.
  std::vector<std::string> Errors(const std::string& yaml, std::vector<std::string> profiles = {}) {
    Parse(yaml, profiles);
    std::vector<std::string> out;
    for (auto& e : errors_) {
      std::string s = e.ToString();
      EXPECT_TRUE(StartsWith(s, dir_ + "/moor.yaml:")) << s;
      out.push_back(s.substr(dir_.size() + 11));
    }
    return out;
  }
  std::string One(const std::string& yaml) {
    auto e = Errors(yaml);
    EXPECT_EQ(e.size(), 1u) << Join(e, "\n");
    return e.empty() ? "" : e[0];
  }
};

TEST_F(AppFileTest, MinimalDefaults) {
  auto app = ParseOk("services:\n  web:\n    image: nginx\n");
  ASSERT_EQ(app.services.size(), 1u);
  const auto& s = app.services.at("web");
  EXPECT_EQ(s.image, "nginx");
  EXPECT_EQ(s.replicas, 1);
  EXPECT_EQ(s.restart.name, "no");
  EXPECT_EQ(s.stop_grace_period_ns, 10'000'000'000);
  ASSERT_EQ(s.networks.size(), 1u);
  EXPECT_EQ(s.networks[0].name, "default");
  EXPECT_FALSE(s.command.has_value());
  std::string base = std::filesystem::path(dir_).filename().string(), want;
  for (char c : base) want += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(app.name, want);  // the directory's name
  EXPECT_EQ(app.networks.at("default").name, app.name + "_default");
}

TEST_F(AppFileTest, EveryForm) {
  Write("php/Dockerfile", "FROM scratch\n");
  Write("code/index.php", "<?php\n");
  Write("app.env", "# comment\nA=1\nexport B=\"two\"\nC=from-file\n");
  Write("upstream.ctmpl", "x");
  auto app = ParseOk(R"(name: demo
x-common: &common
  restart: always
services:
  php:
    <<: *common
    build:
      context: ./php
      args: {VERSION: "8.2"}
    command: php-fpm8.2 -F --fpm-config "/etc/php/a b.conf"
    entrypoint: ["/init", "--"]
    environment:
      C: from-env
      D: "4"
    env_file: app.env
    expose: [9000, "9001/tcp"]
    volumes:
      - ./code:/var/www:ro
      - data:/data
      - /tmp:/host-tmp
      - /anon
      - type: tmpfs
        target: /run
        tmpfs: {size: 64m}
    tmpfs: /scratch:size=1m
    replicas: 3
    resources: {memory: 256m, cpus: 0.5, pids: 200}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1m30s
      timeout: 500ms
      retries: 5
      start_period: 2s
    stop_signal: QUIT
    stop_grace_period: 20s
    reload_signal: USR2
    depends_on:
      db: {condition: service_healthy}
    networks:
      back: {aliases: [fpm]}
    labels: [team=web, tier=php]
    hostname: php
    user: www-data
    working_dir: /var/www
    service:
      name: php-api
      port: 9000
      tags: [api, v1]
      meta: {group: a}
      drain: 2s
      check: {type: fastcgi, path: /ping, interval: 2s, failures_before_critical: 3}
  web:
    image: nginx
    ports:
      - "8080:80"
      - "127.0.0.1:8443:443/tcp"
      - "53/udp"
      - target: 81
        published: 8081
        host_ip: 10.0.0.1
        protocol: udp
    restart: on-failure:4
    depends_on: [php]
    networks: [back]
    templates:
      - {source: upstream.ctmpl, destination: /etc/nginx/upstream.conf, wait: "1s:5s"}
    service:
      check: http:/health
  db:
    image: postgres
    environment: [POSTGRES_PASSWORD=x, EMPTY=]
    healthcheck: {test: pg_isready}
volumes:
  data:
networks:
  back:
)");
  EXPECT_EQ(app.name, "demo");
  const auto& php = app.services.at("php");
  EXPECT_EQ(php.image, "demo-php");
  ASSERT_TRUE(php.build);
  EXPECT_EQ(php.build->context, dir_ + "/php");
  EXPECT_EQ(php.build->args.at("VERSION"), "8.2");
  EXPECT_EQ(php.restart.name, "always");  // from the merge key
  EXPECT_EQ(*php.command, (std::vector<std::string>{"php-fpm8.2", "-F", "--fpm-config", "/etc/php/a b.conf"}));
  EXPECT_EQ(*php.entrypoint, (std::vector<std::string>{"/init", "--"}));
  EXPECT_EQ(php.environment.at("A"), "1");
  EXPECT_EQ(php.environment.at("B"), "two");
  EXPECT_EQ(php.environment.at("C"), "from-env");  // environment wins over env_file
  EXPECT_EQ(php.environment.at("D"), "4");
  EXPECT_EQ(php.expose, (std::vector<uint16_t>{9000, 9001}));
  ASSERT_EQ(php.volumes.size(), 6u);
  EXPECT_EQ(php.volumes[0].type, "bind");
  EXPECT_EQ(php.volumes[0].source, dir_ + "/code");
  EXPECT_TRUE(php.volumes[0].read_only);
  EXPECT_EQ(php.volumes[1].type, "volume");
  EXPECT_EQ(php.volumes[1].source, "data");
  EXPECT_EQ(php.volumes[2].source, "/tmp");
  EXPECT_EQ(php.volumes[3].type, "volume");
  EXPECT_EQ(php.volumes[3].source, "");
  EXPECT_EQ(php.volumes[4].tmpfs_size, 64 << 20);
  EXPECT_EQ(php.volumes[5].target, "/scratch");
  EXPECT_EQ(php.volumes[5].tmpfs_size, 1 << 20);
  EXPECT_EQ(php.replicas, 3);
  EXPECT_EQ(php.resources.memory, 256 << 20);
  EXPECT_DOUBLE_EQ(php.resources.cpus, 0.5);
  EXPECT_EQ(php.resources.pids, 200);
  ASSERT_TRUE(php.healthcheck);
  EXPECT_EQ(php.healthcheck->interval_ns, 90'000'000'000);
  EXPECT_EQ(php.healthcheck->timeout_ns, 500'000'000);
  EXPECT_EQ(php.healthcheck->retries, 5);
  EXPECT_EQ(php.stop_signal, "SIGQUIT");
  EXPECT_EQ(php.reload_signal, "SIGUSR2");
  EXPECT_EQ(php.stop_grace_period_ns, 20'000'000'000);
  ASSERT_EQ(php.depends_on.size(), 1u);
  EXPECT_EQ(php.depends_on[0].condition, "service_healthy");
  EXPECT_EQ(php.networks[0].aliases, std::vector<std::string>{"fpm"});
  EXPECT_EQ(php.labels.at("tier"), "php");
  EXPECT_EQ(php.user, "www-data");
  ASSERT_TRUE(php.service && php.service->check);
  EXPECT_EQ(php.service->name, "php-api");
  EXPECT_EQ(php.service->port, 9000);
  EXPECT_EQ(php.service->tags, (std::vector<std::string>{"api", "v1"}));
  EXPECT_EQ(php.service->check->type, "fastcgi");
  EXPECT_EQ(php.service->check->failures_before_critical, 3);

  const auto& web = app.services.at("web");
  ASSERT_EQ(web.ports.size(), 4u);
  EXPECT_EQ(web.ports[0].published, 8080);
  EXPECT_EQ(web.ports[0].target, 80);
  EXPECT_EQ(web.ports[1].host_ip, "127.0.0.1");
  EXPECT_EQ(web.ports[2].published, 0);
  EXPECT_EQ(web.ports[2].protocol, "udp");
  EXPECT_EQ(web.ports[3].host_ip, "10.0.0.1");
  EXPECT_EQ(web.restart.name, "on-failure");
  EXPECT_EQ(web.restart.max_retries, 4);
  ASSERT_EQ(web.templates.size(), 1u);
  EXPECT_EQ(web.templates[0].source, dir_ + "/upstream.ctmpl");
  EXPECT_EQ(web.templates[0].wait_max_ns, 5'000'000'000);
  EXPECT_EQ(web.service->name, "web");
  EXPECT_EQ(web.service->check->path, "/health");
  const auto& db = app.services.at("db");
  EXPECT_EQ(db.healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "pg_isready"}));
  EXPECT_EQ(db.environment.at("EMPTY"), "");

  EXPECT_EQ(StartOrder(app), (std::vector<std::string>{"db", "php", "web"}));
}

TEST_F(AppFileTest, ComposeCompatibility) {
  auto app = ParseOk(R"(version: "3.8"
services:
  api:
    image: example/api:1
    mem_limit: 1g
    cpus: "1.5"
    pids_limit: 100
    ports: ["9000"]
  worker:
    image: example/worker
    deploy:
      replicas: 4
      resources:
        limits: {memory: 128M, cpus: "0.25", pids: 50}
    depends_on:
      api:
        condition: service_started
)");
  EXPECT_EQ(app.services.at("api").resources.memory, int64_t{1} << 30);
  EXPECT_DOUBLE_EQ(app.services.at("api").resources.cpus, 1.5);
  EXPECT_EQ(app.services.at("api").resources.pids, 100);
  const auto& w = app.services.at("worker");
  EXPECT_EQ(w.replicas, 4);
  EXPECT_EQ(w.resources.memory, 128 << 20);
  EXPECT_DOUBLE_EQ(w.resources.cpus, 0.25);
  EXPECT_EQ(w.resources.pids, 50);
}

TEST_F(AppFileTest, UnknownKeysWithSuggestion) {
  auto e = Errors("services:\n  web:\n    imagee: nginx\n    image: nginx\n    foo: 1\nvolumez: {}\nx-ok: 1\n");
  ASSERT_EQ(e.size(), 3u) << Join(e, "\n");
  EXPECT_EQ(e[0], "3:5: services.web: unknown key \"imagee\" — did you mean \"image\"?");
  EXPECT_TRUE(StartsWith(e[1], "5:5: services.web: unknown key \"foo\" — allowed here: image, build")) << e[1];
  EXPECT_EQ(e[2], "6:1: top level: unknown key \"volumez\" — did you mean \"volumes\"?");
}

TEST_F(AppFileTest, WrongTypesDurationsSizes) {
  auto e = Errors(R"(services:
  web:
    image: [a]
    stop_grace_period: 10x
    mem_limit: 12q
    replicas: -1
    healthcheck: {interval: soon}
    restart: allways
    ports: ["99999:80", "8000-8001:80"]
)");
  ASSERT_EQ(e.size(), 8u) << Join(e, "\n");
  EXPECT_EQ(e[0], "3:12: services.web.image: expected a string, found a list — write one value (quote it if YAML "
                  "would read it as something else)");
  EXPECT_EQ(e[1], "4:24: services.web.stop_grace_period: bad duration \"10x\" — write it like 10s, 1m30s or 500ms");
  EXPECT_EQ(e[2], "5:16: services.web.mem_limit: bad size \"12q\" — write it like 256m, 1g or a number of bytes");
  EXPECT_EQ(e[3], "6:15: services.web.replicas: expected a whole number from 0 to 10000, found \"-1\" — write one "
                  "number in that range, without quotes or brackets");
  EXPECT_EQ(e[4], "7:29: services.web.healthcheck.interval: bad duration \"soon\" — write it like 10s, 1m30s or 500ms");
  EXPECT_EQ(e[5], "8:14: services.web.restart: unknown restart policy \"allways\" — did you mean \"always\"?");
  EXPECT_TRUE(StartsWith(e[6], "9:13: services.web.ports: bad port \"99999:80\"")) << e[6];
  EXPECT_TRUE(StartsWith(e[7], "9:25: services.web.ports: port ranges are not supported")) << e[7];
  EXPECT_EQ(
      Errors("services:\n  web:\n    image: x\n    ports: [\"8000-8001:80\"]\n")[0],
      "4:13: services.web.ports: port ranges are not supported (\"8000-8001:80\") — list each port on its own line");
}

TEST_F(AppFileTest, MissingImageBuildEnvFileContext) {
  auto e = Errors(R"(services:
  a:
    restart: always
  b:
    build: ./nope
  c:
    image: x
    env_file: missing.env
)");
  ASSERT_EQ(e.size(), 3u) << Join(e, "\n");
  EXPECT_EQ(e[0], "2:3: services.a: the service has neither image nor build — add image: NAME or build: DIR");
  EXPECT_EQ(e[1],
            "5:12: services.b.build: the build context " + dir_ +
                "/nope does not exist — create the directory, or fix the path (relative to the file's directory)");
  EXPECT_TRUE(StartsWith(e[2], "8:15: services.c.env_file: cannot read \"missing.env\"")) << e[2];
  EXPECT_NE(e[2].find("— create the file or remove it from env_file"), std::string::npos);
}

TEST_F(AppFileTest, NamesAndReferences) {
  auto e = Errors(R"(services:
  Web_1:
    image: x
  b:
    image: x
    depends_on: [dbb]
    volumes: ["cache:/c"]
    networks: [front]
  db:
    image: x
)");
  ASSERT_EQ(e.size(), 4u) << Join(e, "\n");
  EXPECT_EQ(e[0],
            "2:3: service name \"Web_1\" is not DNS-safe — use lower-case letters, digits and '-' (at most 63), e.g. "
            "\"web-1\"");
  EXPECT_EQ(e[1], "6:18: services.b.depends_on: unknown service \"dbb\" — did you mean \"db\"?");
  EXPECT_TRUE(StartsWith(e[2], "7:15: services.b.volumes: volume \"cache\" is not declared")) << e[2];
  EXPECT_EQ(e[3],
            "8:16: services.b.networks: network \"front\" is not declared — add it under the top-level networks:");
}

TEST_F(AppFileTest, Cycles) {
  auto e = Errors(R"(services:
  a:
    image: x
    depends_on: [b]
  b:
    image: x
    depends_on: [c]
  c:
    image: x
    depends_on:
      a: {condition: service_healthy}
  d:
    image: x
    depends_on: [d]
)");
  ASSERT_EQ(e.size(), 2u) << Join(e, "\n");
  EXPECT_EQ(
      e[0],
      "4:5: depends_on cycle: a → b → c → a — remove one of these dependencies; services cannot wait for each other");
  EXPECT_EQ(e[1], "14:18: services.d.depends_on: the service depends on itself — remove it from its own depends_on");
}

TEST_F(AppFileTest, PortConflicts) {
  auto e = Errors(R"(services:
  a:
    image: x
    ports: ["8080:80", "127.0.0.1:9000:9000", "53:53/udp"]
  b:
    image: x
    ports: ["0.0.0.0:8080:8080", "127.0.0.2:9000:9000", "53:53/tcp"]
  c:
    image: x
    replicas: 2
    ports: ["7000:80", "80"]
)");
  ASSERT_EQ(e.size(), 2u) << Join(e, "\n");
  EXPECT_EQ(e[0],
            "7:13: services.b.ports: host port 0.0.0.0:8080/tcp is already published by service \"a\" (line 4) — pick "
            "another host port");
  EXPECT_TRUE(StartsWith(
      e[1], "11:13: services.c.ports: host port 7000 is published by 2 replicas — publish only the container port"))
      << e[1];
}

TEST_F(AppFileTest, MoreValidationErrors) {
  auto e = Errors(R"(services:
  a:
    image: x
    image: y
    stop_signal: SIGFOO
    volumes: ["./missing:/m", "data:rel"]
    service: {check: {type: htp}}
    templates: [{source: nope.ctmpl, destination: /etc/x}]
    depends_on: {b: {condition: service_health}}
  b:
    image: x
    working_dir: rel
)");
  ASSERT_EQ(e.size(), 8u) << Join(e, "\n");
  EXPECT_EQ(e[0], "4:5: services.a: key \"image\" is given twice — keep one of them");
  EXPECT_EQ(e[1],
            "5:18: services.a.stop_signal: unknown signal \"SIGFOO\" — write a name like SIGTERM, SIGQUIT or SIGHUP");
  EXPECT_EQ(e[2],
            "6:15: services.a.volumes: the bind source " + dir_ +
                "/missing does not exist — create it, or fix the path (relative paths start at the file's directory)");
  EXPECT_EQ(e[3],
            "6:31: services.a.volumes: the target \"rel\" is not an absolute path — write the path in the container, "
            "starting with /");
  EXPECT_EQ(e[4], "7:29: services.a.service.check: unknown check type \"htp\" — did you mean \"http\"?");
  EXPECT_TRUE(StartsWith(e[5], "8:26: services.a.templates.source: " + dir_ + "/nope.ctmpl does not exist")) << e[5];
  EXPECT_EQ(e[6],
            "9:33: services.a.depends_on.b.condition: unknown condition \"service_health\" — did you mean "
            "\"service_healthy\"?");
  EXPECT_EQ(e[7], "12:18: services.b.working_dir: \"rel\" is not an absolute path — write a path starting with /");
}

TEST_F(AppFileTest, OneNetworkPerServiceAndAMemoryFloor) {
  auto e = Errors(R"(services:
  a:
    image: x
    networks: [default, back]
    mem_limit: 1m
networks:
  back:
)");
  ASSERT_EQ(e.size(), 2u) << Join(e, "\n");
  EXPECT_EQ(e[0], "2:3: services.a.resources.memory: 1048576 bytes is below 6m — give at least 6m (the kernel needs "
                  "that much for a container)");
  EXPECT_EQ(e[1], "4:25: services.a.networks: a service can join one network for now (it has 2) — keep one network "
                  "per service; services of the app reach each other through it");
}

TEST_F(AppFileTest, HealthcheckDisable) {
  auto app = ParseOk("services:\n  a:\n    image: x\n    healthcheck: {disable: true}\n");
  EXPECT_EQ(app.services.at("a").healthcheck->test, std::vector<std::string>{"NONE"});
}

TEST_F(AppFileTest, ResourceGivenTwice) {
  EXPECT_EQ(One("services:\n  a:\n    image: x\n    resources: {memory: 1g}\n    mem_limit: 2g\n"),
            "5:16: memory is given twice (resources.memory and mem_limit) — keep one of them");
}

TEST_F(AppFileTest, YamlSyntaxError) {
  auto e = One("services:\n  a:\n    image: [x\n");
  EXPECT_TRUE(StartsWith(e, "4:1: YAML syntax error")) << e;
}

TEST_F(AppFileTest, Profiles) {
  std::string yaml = R"(services:
  web:
    image: x
  debug:
    image: x
    profiles: [dev]
  tool:
    image: x
    profiles: [ops]
    depends_on: [debug]
)";
  auto app = ParseOk(yaml);
  EXPECT_EQ(app.services.size(), 1u);
  app = ParseOk(yaml, {"dev"});
  EXPECT_EQ(app.services.size(), 2u);
  EXPECT_TRUE(app.services.count("debug"));
  auto e = Errors(yaml, {"ops"});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            "10:18: services.tool.depends_on: \"debug\" is not enabled by the active profiles — activate one of its "
            "profiles (dev) with --profile");
  app = ParseOk(yaml, {"*"});
  EXPECT_EQ(app.services.size(), 3u);
}

TEST_F(AppFileTest, NormalizedGolden) {
  auto app = ParseOk(R"(name: golden
services:
  web:
    image: nginx
    command: nginx -g "daemon off;"
    ports: ["8080:80"]
    environment: {B: "2", A: "1"}
    healthcheck: {test: curl -f localhost}
)");
  auto j = NormalizedJson(app);
  EXPECT_EQ(
      j["services"]["web"].dump(),
      R"({"command":["nginx","-g","daemon off;"],"depends_on":{},"environment":{"A":"1","B":"2"},"expose":[],)"
      R"("healthcheck":{"disable":false,"interval":"30s","retries":3,"start_period":"0s","test":["CMD-SHELL","curl -f localhost"],"timeout":"30s"},)"
      R"("image":"nginx","labels":{},"networks":{"default":{}},)"
      R"("ports":[{"host_ip":"","protocol":"tcp","published":8080,"target":80}],"reload_signal":"SIGHUP",)"
      R"("replicas":1,"resources":{"cpus":0.0,"memory":0,"pids":0},"restart":"no","stop_grace_period":"10s","volumes":[]})");
  EXPECT_EQ(j["networks"].dump(),
            R"({"default":{"driver":"bridge","external":false,"internal":false,"labels":{},"name":"golden_default"}})");
  std::string yaml = NormalizedYaml(app);
  EXPECT_NE(yaml.find("name: golden\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("restart: \"no\""), std::string::npos) << yaml;
  // The normalised YAML reads back to the same model.
  Write("n/moor.yaml", yaml);
  std::vector<Diagnostic> errs;
  auto again = ParseAppFile(yaml, dir_ + "/n/moor.yaml", {}, &errs);
  for (auto& e : errs) ADD_FAILURE() << e.ToString();
  EXPECT_EQ(NormalizedJson(again), j);
}

TEST_F(AppFileTest, DigestStableUnderReorderingChangedByRealChange) {
  auto a = ParseOk(
      "services:\n  w:\n    image: x\n    environment: {A: '1', B: '2'}\n    ports: ['80:80']\n    mem_limit: 1g\n");
  auto b = ParseOk(
      "services:\n  w:\n    mem_limit: 1024m\n    ports: ['80:80']\n    environment: [B=2, A=1]\n    image: x\n");
  auto c = ParseOk(
      "services:\n  w:\n    image: x\n    environment: {A: '1', B: '3'}\n    ports: ['80:80']\n    mem_limit: 1g\n");
  std::string da = ServiceDigest(a.services.at("w"));
  EXPECT_EQ(da.size(), 64u);
  EXPECT_EQ(da, ServiceDigest(b.services.at("w")));
  EXPECT_NE(da, ServiceDigest(c.services.at("w")));
  // Scaling is not a change of definition.
  auto scaled = a.services.at("w");
  scaled.replicas = 5;
  EXPECT_EQ(da, ServiceDigest(scaled));
}

TEST_F(AppFileTest, StartOrderStable) {
  auto app = ParseOk(R"(services:
  web: {image: x, depends_on: [php, cache]}
  php: {image: x, depends_on: [db]}
  db: {image: x}
  cache: {image: x}
  zz: {image: x}
)");
  EXPECT_EQ(StartOrder(app), (std::vector<std::string>{"cache", "db", "php", "web", "zz"}));
}

TEST_F(AppFileTest, LoadAndFind) {
  Write("compose.yaml", "services:\n  a: {image: x}\n");
  auto found = FindAppFile(dir_);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(*found, dir_ + "/compose.yaml");
  Write("moor.yaml", "services:\n  a: {imag: x}\n  b: {}\n");
  EXPECT_EQ(*FindAppFile(dir_), dir_ + "/moor.yaml");
  auto bad = LoadAppFile(dir_ + "/moor.yaml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(Split(bad.error().message(), '\n').size(), 3u) << bad.error().message();
  auto ok = LoadAppFile(dir_ + "/compose.yaml");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_FALSE(FindAppFile(dir_ + "/none"));
}

TEST(FormatDurationTest, GoStyle) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(500'000'000), "500ms");
  EXPECT_EQ(FormatDuration(90'000'000'000), "1m30s");
  EXPECT_EQ(FormatDuration(3'600'000'000'000), "1h");
  EXPECT_EQ(FormatDuration(1'500'000'000), "1.5s");
}

TEST(ShellWordsTest, Quotes) {
  EXPECT_EQ(*ShellWords("a 'b c' \"d \\\"e\" f\\ g ''"), (std::vector<std::string>{"a", "b c", "d \"e", "f g", ""}));
  EXPECT_FALSE(ShellWords("a 'b"));
}

}  // namespace
}  // namespace moor::app

namespace moor::app {
namespace {

TEST_F(AppFileTest, Interpolation) {
  ::setenv("MOOR_APP_TEST_TAG", "8.2", 1);
  ::unsetenv("MOOR_APP_TEST_UNSET");
  Write(".env", "FROM_DOTENV=dot\nMOOR_APP_TEST_TAG=ignored\n");
  auto app = ParseOk(R"(services:
  a:
    image: php:${MOOR_APP_TEST_TAG}
    environment:
      A: ${MOOR_APP_TEST_UNSET:-def}
      B: $FROM_DOTENV
      C: "$$HOME"
      D: ${MOOR_APP_TEST_TAG:+set}
      E: "${MOOR_APP_TEST_UNSET-${FROM_DOTENV}x}"
)");
  const auto& a = app.services.at("a");
  EXPECT_EQ(a.image, "php:8.2");
  EXPECT_EQ(a.environment.at("A"), "def");
  EXPECT_EQ(a.environment.at("B"), "dot");
  EXPECT_EQ(a.environment.at("C"), "$HOME");
  EXPECT_EQ(a.environment.at("D"), "set");
  EXPECT_EQ(a.environment.at("E"), "dotx");
  EXPECT_EQ(
      One("services:\n  a:\n    image: ${MOOR_APP_TEST_UNSET:?give the tag}\n"),
      "3:12: MOOR_APP_TEST_UNSET is required: give the tag — set the variable in the environment or in .env beside "
      "the file, or write $$ for a literal $");
}

TEST_F(AppFileTest, DiscoveryLabels) {
  Write("up.ctmpl", "x");
  auto app = ParseOk(R"(services:
  php:
    image: x
    service:
      name: php-api
      port: 9000
      tags: [a, b]
      meta: {group: api}
      drain: 2s
      check: {type: fastcgi, path: /ping, interval: 1s, failures_before_critical: 3}
  web:
    image: nginx
    templates: [{source: up.ctmpl, destination: /etc/nginx/up.conf}]
)");
  auto l = DiscoveryLabels(app.services.at("php"), "/run/moor/templates");
  EXPECT_EQ(l, (std::map<std::string, std::string>{{"moor.service", "php-api"},
                                                   {"moor.service.port", "9000"},
                                                   {"moor.service.tags", "a,b"},
                                                   {"moor.service.meta.group", "api"},
                                                   {"moor.service.drain", "2s"},
                                                   {"moor.check", "fastcgi:/ping"},
                                                   {"moor.check.interval", "1s"},
                                                   {"moor.check.failures_before_critical", "3"}}));
  auto w = DiscoveryLabels(app.services.at("web"), "/run/moor/templates");
  EXPECT_EQ(
      w, (std::map<std::string, std::string>{{"moor.template.t1", "/run/moor/templates/1-up.ctmpl:/etc/nginx/up.conf"},
                                             {"moor.template.t1.wait", "200ms:2s"},
                                             {"moor.reload.signal", "HUP"}}));
}

// ---- code: (moor deploy)

TEST_F(AppFileTest, CodeBlockParsesWithDefaultsAndFrom) {
  Write("src/index.php", "<?php\n");
  auto app = ParseOk(R"(services:
  php:
    image: moor/php-fpm:8.2
    code:
      source: ./src
  api:
    image: moor/php-fpm:8.2
    code: {source: src/, strategy: rolling, batch: 2, path: /srv/www/}
  web:
    image: moor/nginx:1.22
    code: {from: php}
  plain:
    image: x
)");
  const auto& php = app.services.at("php");
  ASSERT_TRUE(php.code);
  EXPECT_EQ(php.code->source, dir_ + "/src");
  EXPECT_EQ(php.code->strategy, "reload");
  EXPECT_EQ(php.code->batch, 1);
  EXPECT_EQ(php.code->path, "/srv/app");
  EXPECT_EQ(php.code->from, "");
  EXPECT_EQ(php.code->pos.line, 5);
  const auto& api = app.services.at("api");
  ASSERT_TRUE(api.code);
  EXPECT_EQ(api.code->source, dir_ + "/src");
  EXPECT_EQ(api.code->strategy, "rolling");
  EXPECT_EQ(api.code->batch, 2);
  EXPECT_EQ(api.code->path, "/srv/www");
  const auto& web = app.services.at("web");
  ASSERT_TRUE(web.code);
  EXPECT_EQ(web.code->from, "php");
  EXPECT_EQ(web.code->source, "");
  EXPECT_EQ(web.code->pos.line, 11);  // at the from value
  EXPECT_EQ(web.code->pos.column, 18);
  EXPECT_FALSE(app.services.at("plain").code);
}

TEST_F(AppFileTest, CodeBlockIsNormalisedAndReadsBack) {
  Write("src/index.php", "<?php\n");
  auto app = ParseOk(R"(name: shop
services:
  php: {image: p, code: {source: ./src}}
  api: {image: p, code: {source: ./src, strategy: rolling, batch: 3}}
  web: {image: n, code: {from: php}}
)");
  auto j = NormalizedJson(app);
  auto code = [&](const char* svc) { return j["services"][svc].value("code", nlohmann::json()).dump(); };
  EXPECT_EQ(code("php"), R"({"source":")" + dir_ + R"(/src","strategy":"reload"})");
  EXPECT_EQ(code("api"), R"({"batch":3,"path":"/srv/app","source":")" + dir_ + R"(/src","strategy":"rolling"})");
  EXPECT_EQ(code("web"), R"({"from":"php"})");
  EXPECT_FALSE(ServiceJson(app.services.at("php")).is_null());
  std::string yaml = NormalizedYaml(app);
  EXPECT_NE(yaml.find("code:"), std::string::npos) << yaml;
  Write("n/moor.yaml", yaml);
  std::vector<Diagnostic> errs;
  auto again = ParseAppFile(yaml, dir_ + "/n/moor.yaml", {}, &errs);
  for (auto& e : errs) ADD_FAILURE() << e.ToString();
  EXPECT_EQ(NormalizedJson(again), j);
}

TEST_F(AppFileTest, CodeDigestFollowsWhatContainersAreMadeOf) {
  Write("src/index.php", "<?php\n");
  Write("other/index.php", "<?php\n");
  auto digest = [&](const std::string& code) {
    auto app = ParseOk("services:\n  php:\n    image: p\n    code: " + code + "\n");
    return app.services.count("php") ? ServiceDigest(app.services.at("php")) : "";
  };
  std::string plain = ServiceDigest(ParseOk("services:\n  php:\n    image: p\n").services.at("php"));
  std::string reload = digest("{source: ./src}");
  EXPECT_NE(reload, plain);
  EXPECT_EQ(reload, digest("{source: ./other}"));  // the source is the deploying machine's business
  std::string rolling = digest("{source: ./src, strategy: rolling}");
  EXPECT_NE(rolling, reload);
  EXPECT_EQ(rolling, digest("{source: ./src, strategy: rolling, batch: 4}"));  // the pace is not the content
  EXPECT_NE(rolling, digest("{source: ./src, strategy: rolling, path: /srv/www}"));
}

TEST_F(AppFileTest, CodeBlockErrors) {
  Write("src/index.php", "<?php\n");
  auto e = Errors(R"(services:
  a:
    image: x
    code: {source: ./src, stratgy: rolling}
  b:
    image: x
    code: {source: ./src, strategy: rolin}
  c:
    image: x
    code: {source: ./src, strategy: rolling, batch: 0}
  d:
    image: x
    code: {source: ./src, path: app}
  e:
    image: x
    code: {source: ./src, path: /srv/releases/x}
  f:
    image: x
    code: {source: ./nope}
  g:
    image: x
    code: {source: ./src/index.php}
  h:
    image: x
    code: {strategy: reload}
  i:
    image: x
    code: ./src
)");
  ASSERT_EQ(e.size(), 9u) << Join(e, "\n");
  EXPECT_EQ(e[0], "4:27: services.a.code: unknown key \"stratgy\" — did you mean \"strategy\"?");
  EXPECT_EQ(e[1], "7:37: services.b.code.strategy: unknown strategy \"rolin\" — did you mean \"rolling\"?");
  EXPECT_EQ(e[2], "10:53: services.c.code.batch: expected a whole number from 1 to 10000, found \"0\" — write one "
                  "number in that range, without quotes or brackets");
  EXPECT_EQ(e[3], "13:33: services.d.code.path: \"app\" is not an absolute path below / — write the path in the "
                  "container where a rolling release is mounted, e.g. /srv/app");
  EXPECT_EQ(e[4], "16:33: services.e.code.path: \"/srv/releases/x\" is inside /srv/releases, where every release is "
                  "mounted — pick another path, e.g. /srv/app");
  EXPECT_EQ(e[5], "19:20: services.f.code.source: the code directory " + dir_ +
                      "/nope does not exist — create it, or fix the path (relative to the file's directory)");
  EXPECT_EQ(e[6], "22:20: services.g.code.source: " + dir_ +
                      "/src/index.php is not a directory — name the directory that holds the code, not "
                      "\"./src/index.php\" itself");
  EXPECT_EQ(e[7], "25:11: services.h.code: source is missing — write source: DIR (the code directory) or from: "
                  "SERVICE");
  EXPECT_EQ(e[8], "28:11: services.i.code: expected a mapping, found \"./src\" — indent KEY: VALUE lines under it");
}

TEST_F(AppFileTest, CodeFromErrors) {
  Write("src/index.php", "<?php\n");
  auto e = Errors(R"(services:
  php:
    image: x
    code: {source: ./src}
  a:
    image: x
    code: {from: php, source: ./src}
  b:
    image: x
    code: {from: php, strategy: rolling, batch: 2}
  c:
    image: x
    code: {from: c}
  d:
    image: x
    code: {from: phpp}
  e:
    image: x
    code: {from: plain}
  f:
    image: x
    code: {from: b}
  plain:
    image: x
)");
  ASSERT_EQ(e.size(), 7u) << Join(e, "\n");
  EXPECT_EQ(e[0], "7:23: services.a.code: source and from together — keep source (this service's own code) or "
                  "from (the releases of another service)");
  EXPECT_EQ(e[1], "10:23: services.b.code: strategy with from — remove it: a from service follows the other "
                  "service's releases and is never switched itself");
  EXPECT_EQ(e[2], "10:42: services.b.code: batch with from — remove it: a from service follows the other "
                  "service's releases and is never switched itself");
  EXPECT_EQ(e[3], "13:18: services.c.code.from: the service names itself — write source: DIR, or the name of "
                  "another service");
  EXPECT_EQ(e[4], "16:18: services.d.code.from: unknown service \"phpp\" — did you mean \"php\"?");
  EXPECT_EQ(e[5], "19:18: services.e.code.from: service \"plain\" has no code source — give plain code: {source: "
                "DIR}, or name the service that has one");
  EXPECT_EQ(e[6], "22:18: services.f.code.from: service \"b\" has no code source — give b code: {source: DIR}, or "
                  "name the service that has one");
}

TEST_F(AppFileTest, CodeFromAServiceNotEnabled) {
  Write("src/index.php", "<?php\n");
  std::string yaml = R"(services:
  php:
    image: x
    profiles: [app]
    code: {source: ./src}
  web:
    image: x
    code: {from: php}
)";
  auto e = Errors(yaml);
  ASSERT_EQ(e.size(), 1u) << Join(e, "\n");
  EXPECT_EQ(e[0], "8:18: services.web.code.from: \"php\" is not enabled by the active profiles — activate one of "
                  "its profiles (app) with --profile");
  auto app = ParseOk(yaml, {"app"});
  EXPECT_EQ(app.services.size(), 2u);
}

TEST_F(AppFileTest, CodeMountsCannotBeHiddenByVolumes) {
  Write("src/index.php", "<?php\n");
  auto e = Errors(R"(services:
  php:
    image: x
    code: {source: ./src, strategy: rolling, path: /srv/www}
    volumes: ["/tmp:/srv/releases", "/tmp:/srv/www/", "/tmp:/srv/releases/5", "/tmp:/srv/app"]
  web:
    image: x
    code: {from: php}
    volumes: ["/tmp:/srv/releases", "/tmp:/srv/app"]
  reload:
    image: x
    code: {source: ./src}
    volumes: ["/tmp:/srv/app"]
  plain:
    image: x
    volumes: ["/tmp:/srv/releases"]
)");
  ASSERT_EQ(e.size(), 4u) << Join(e, "\n");
  EXPECT_EQ(e[0], "5:15: services.php.volumes: /srv/releases is where the code releases are mounted — mount the "
                  "volume elsewhere; code: puts every release at /srv/releases");
  EXPECT_EQ(e[1], "5:37: services.php.volumes: /srv/www/ is where code.path mounts the release — mount the volume "
                  "elsewhere, or set code.path to another directory");
  EXPECT_TRUE(StartsWith(e[2], "5:55: services.php.volumes: /srv/releases/5 is where the code releases are mounted"))
      << e[2];
  EXPECT_TRUE(StartsWith(e[3], "9:15: services.web.volumes: /srv/releases is where")) << e[3];
}

TEST_F(AppFileTest, ComposeFixture) {
  auto app = LoadAppFile(std::string(MOOR_APP_TESTDATA) + "/docker-compose.yml");
  ASSERT_TRUE(app) << app.error().message();
  EXPECT_EQ(app->name, "shop");
  const auto& api = app->services.at("api");
  EXPECT_EQ(api.replicas, 2);
  EXPECT_EQ(api.resources.memory, 512 << 20);
  EXPECT_EQ(app->services.at("db").resources.memory, int64_t{1} << 30);
  EXPECT_EQ(api.depends_on[0].condition, "service_healthy");
  EXPECT_EQ(StartOrder(*app), (std::vector<std::string>{"db", "api", "proxy"}));
  EXPECT_EQ(app->volumes.at("pgdata").name, "shop_pgdata");
}

}  // namespace
}  // namespace moor::app

// ---- logging: (the daemon's log shipper reads the labels)

namespace moor::app {
namespace {

TEST_F(AppFileTest, LoggingBlockBecomesLogLabels) {
  auto app = ParseOk(R"(services:
  php:
    image: moor/php-fpm:8.2
    logging:
      outputs: [central, lk]
      multiline: {start: '^\[[0-9]{2}-'}
      json: true
  quiet:
    image: x
    logging: {outputs: none}
  plain:
    image: x
)");
  const auto& php = app.services.at("php").labels;
  EXPECT_EQ(php.at("moor.log.outputs"), "central,lk");
  EXPECT_EQ(php.at("moor.log.multiline.start"), "^\\[[0-9]{2}-");
  EXPECT_EQ(php.at("moor.log.json"), "true");
  EXPECT_EQ(app.services.at("quiet").labels.at("moor.log.outputs"), "none");
  EXPECT_FALSE(app.services.at("plain").labels.count("moor.log.outputs"));
}

TEST_F(AppFileTest, LoggingBlockErrors) {
  EXPECT_NE(One(R"(services:
  php:
    image: x
    logging: {multiline: {start: '(unclosed'}}
)").find("use a POSIX extended regular expression"), std::string::npos);
  EXPECT_NE(One(R"(services:
  php:
    image: x
    logging: {multiline: {start: '^(a+)\1'}}
)").find("could stall shipping"), std::string::npos);
  EXPECT_NE(One(R"(services:
  php:
    image: x
    logging: {outputs: [Central!]}
)").find("is not an output name"), std::string::npos);
  EXPECT_NE(One(R"(services:
  php:
    image: x
    logging: {outputs: [none, lk]}
)").find("none with other outputs"), std::string::npos);
  EXPECT_NE(One(R"(services:
  php:
    image: x
    logging: {jsonn: true}
)").find("unknown"), std::string::npos);
  EXPECT_NE(One(R"(services:
  php:
    image: x
    labels: {moor.log.json: "false"}
    logging: {json: true}
)").find("both set it"), std::string::npos);
}

}  // namespace
}  // namespace moor::app
