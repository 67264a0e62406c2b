#include <gtest/gtest.h>

#include <string>

#include "image/core/manifest.h"

namespace moor::image {
namespace {

std::string D(char c) {
  return "sha256:" + std::string(64, c);
}

const std::string kDockerConfig = R"({
  "architecture": "amd64",
  "config": {
    "Hostname": "", "AttachStdin": false,
    "User": "nginx",
    "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.25.3"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Volumes": {"/var/cache/nginx": {}},
    "WorkingDir": "/srv",
    "Labels": {"maintainer": "NGINX Docker Maintainers"},
    "StopSignal": "SIGQUIT",
    "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
                    "Interval": 30000000000, "Timeout": 5000000000, "StartPeriod": 1000000000, "Retries": 3},
    "Shell": ["/bin/bash", "-c"],
    "OnBuild": ["RUN echo hi"]
  },
  "created": "2023-11-01T06:41:21.462364783Z",
  "author": "someone",
  "history": [
    {"created": "2023-11-01T00:20:31Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created": "2023-11-01T00:20:31Z", "created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]",
     "empty_layer": true, "comment": "buildkit.dockerfile.v0", "author": "x"}
  ],
  "os": "linux",
  "variant": "",
  "rootfs": {"type": "layers", "diff_ids": [")" +
                                  D('a') + R"(", ")" + D('b') + R"("]}
})";

TEST(ImageConfigTest, ParsesDockerConfig) {
  auto c = ParseImageConfig(kDockerConfig);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->os, "linux");
  EXPECT_EQ(c->created, "2023-11-01T06:41:21.462364783Z");
  EXPECT_EQ(c->author, "someone");
  const ContainerConfig& cc = c->config;
  EXPECT_EQ(cc.user, "nginx");
  EXPECT_EQ(cc.exposed_ports, (std::vector<std::string>{"443/tcp", "80/tcp"}));
  EXPECT_EQ(cc.env.size(), 2u);
  EXPECT_EQ(cc.entrypoint, std::vector<std::string>{"/docker-entrypoint.sh"});
  EXPECT_EQ(cc.cmd, (std::vector<std::string>{"nginx", "-g", "daemon off;"}));
  EXPECT_EQ(cc.volumes, std::vector<std::string>{"/var/cache/nginx"});
  EXPECT_EQ(cc.working_dir, "/srv");
  EXPECT_EQ(cc.labels.at("maintainer"), "NGINX Docker Maintainers");
  EXPECT_EQ(cc.stop_signal, "SIGQUIT");
  ASSERT_TRUE(cc.healthcheck);
  EXPECT_EQ(cc.healthcheck->test.front(), "CMD-SHELL");
  EXPECT_EQ(cc.healthcheck->interval_ns, 30000000000);
  EXPECT_EQ(cc.healthcheck->timeout_ns, 5000000000);
  EXPECT_EQ(cc.healthcheck->start_period_ns, 1000000000);
  EXPECT_EQ(cc.healthcheck->retries, 3);
  EXPECT_EQ(cc.shell, (std::vector<std::string>{"/bin/bash", "-c"}));
  EXPECT_EQ(cc.onbuild, std::vector<std::string>{"RUN echo hi"});
  ASSERT_EQ(c->diff_ids.size(), 2u);
  EXPECT_EQ(c->diff_ids[1].str(), D('b'));
  ASSERT_EQ(c->history.size(), 2u);
  EXPECT_FALSE(c->history[0].empty_layer);
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(c->history[1].comment, "buildkit.dockerfile.v0");
  EXPECT_EQ(c->history[1].author, "x");
}

TEST(ImageConfigTest, EntrypointNullAbsentAndEmptyDiffer) {
  const std::string rootfs = R"("rootfs":{"type":"layers","diff_ids":[]})";
  auto absent = ParseImageConfig(R"({"config":{},)" + rootfs + "}");
  ASSERT_TRUE(absent) << absent.error().message();
  EXPECT_FALSE(absent->config.entrypoint);
  EXPECT_FALSE(absent->config.cmd);

  auto null = ParseImageConfig(R"({"config":{"Entrypoint":null,"Cmd":null},)" + rootfs + "}");
  ASSERT_TRUE(null);
  EXPECT_FALSE(null->config.entrypoint);
  EXPECT_FALSE(null->config.cmd);

  auto empty = ParseImageConfig(R"({"config":{"Entrypoint":[],"Cmd":[]},)" + rootfs + "}");
  ASSERT_TRUE(empty);
  ASSERT_TRUE(empty->config.entrypoint);
  EXPECT_TRUE(empty->config.entrypoint->empty());
  ASSERT_TRUE(empty->config.cmd);
  // [] survives serialisation; "not set" is omitted.
  std::string text = SerializeImageConfig(*empty);
  EXPECT_NE(text.find(R"("Entrypoint":[])"), std::string::npos) << text;
  EXPECT_EQ(SerializeImageConfig(*absent).find("Entrypoint"), std::string::npos);

  // Docker's strslice also accepts a single string.
  auto str = ParseImageConfig(R"({"config":{"Cmd":"sh"},)" + rootfs + "}");
  ASSERT_TRUE(str);
  EXPECT_EQ(str->config.cmd, std::vector<std::string>{"sh"});
}

TEST(ImageConfigTest, MinimalConfigWithoutContainerConfig) {
  auto c = ParseImageConfig(R"({"architecture":"arm64","os":"linux","variant":"v8",)"
                            R"("rootfs":{"type":"layers","diff_ids":[")" +
                            D('1') + R"("]}})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->variant, "v8");
  EXPECT_EQ(c->config, ContainerConfig{});
  EXPECT_FALSE(c->config.healthcheck);
}

void ExpectError(std::string_view text, std::string_view want) {
  auto c = ParseImageConfig(text);
  ASSERT_FALSE(c) << text;
  EXPECT_EQ(c.error().message(), want);
}

TEST(ImageConfigTest, ErrorsNameTheJsonPath) {
  const std::string rootfs = R"("rootfs":{"type":"layers","diff_ids":[]})";
  ExpectError("{}", "image config: rootfs: missing");
  ExpectError(R"({"rootfs":{"type":"tarball","diff_ids":[]}})",
              "image config: rootfs.type: \"tarball\" is not supported (want \"layers\")");
  ExpectError(R"({"rootfs":{"type":"layers"}})", "image config: rootfs.diff_ids: missing");
  ExpectError(R"({"rootfs":{"type":"layers","diff_ids":[")" + D('1') + R"(","sha256:1"]}})",
              "image config: rootfs.diff_ids[1]: digest \"sha256:1\" is not sha256:<64 lowercase hex>");
  ExpectError(R"({"config":{"Env":["A=1",2]},)" + rootfs + "}",
              "image config: config.Env[1]: expected a string");
  ExpectError(R"({"config":{"Entrypoint":{}},)" + rootfs + "}",
              "image config: config.Entrypoint: expected an array of strings");
  ExpectError(R"({"config":{"ExposedPorts":["80/tcp"]},)" + rootfs + "}",
              "image config: config.ExposedPorts: expected an object");
  ExpectError(R"({"config":{"Healthcheck":{"Retries":"3"}},)" + rootfs + "}",
              "image config: config.Healthcheck.Retries: expected an integer");
  ExpectError(R"({"config":{"Healthcheck":{"Retries":9999999999}},)" + rootfs + "}",
              "image config: config.Healthcheck.Retries: value out of range");
  ExpectError(R"({"config":{"Labels":{"a":true}},)" + rootfs + "}",
              "image config: config.Labels.a: expected a string");
  ExpectError(R"({"history":[{"empty_layer":"yes"}],)" + rootfs + "}",
              "image config: history[0].empty_layer: expected true or false");
  ExpectError(R"({"os":5,)" + rootfs + "}", "image config: os: expected a string");
  ExpectError("[]", "image config: expected a JSON object");
  ExpectError("", "image config: not valid JSON");
}

TEST(ImageConfigTest, RoundTripAndCanonicalForm) {
  auto c = ParseImageConfig(kDockerConfig);
  ASSERT_TRUE(c);
  std::string text = SerializeImageConfig(*c);
  auto again = ParseImageConfig(text);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *c);
  EXPECT_EQ(SerializeImageConfig(*again), text);
  // Unknown Docker fields are not carried over; empty ones are omitted.
  EXPECT_EQ(text.find("Hostname"), std::string::npos);
  EXPECT_EQ(text.find("variant"), std::string::npos);
  EXPECT_NE(text.find(R"("ExposedPorts":{"443/tcp":{},"80/tcp":{}})"), std::string::npos) << text;

  ImageConfig minimal;
  EXPECT_EQ(SerializeImageConfig(minimal), R"({"config":{},"rootfs":{"diff_ids":[],"type":"layers"}})");
  auto parsed = ParseImageConfig(SerializeImageConfig(minimal));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, minimal);
}

}  // namespace
}  // namespace moor::image
