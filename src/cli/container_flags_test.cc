#include "cli/container_flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/units.h"
#include "common/file.h"

namespace moor::cli {
namespace {

using nlohmann::json;

json Body(std::vector<std::string> args, bool run = true) {
  auto o = ParseContainerArgs(args, run);
  EXPECT_TRUE(o.has_value()) << (o ? "" : o.error().message());
  return o ? o->body : json();
}

std::string Err(std::vector<std::string> args) {
  auto o = ParseContainerArgs(args, true);
  EXPECT_FALSE(o.has_value()) << "accepted: " << (o ? o->body.dump() : "");
  return o ? "" : o.error().message();
}

TEST(ContainerFlags, MinimalBody) {
  EXPECT_EQ(Body({"busybox"}), json::parse(R"({"Image":"busybox","HostConfig":{}})"));
  EXPECT_EQ(Body({"busybox", "sh", "-c", "echo hi"}),
            json::parse(R"({"Image":"busybox","Cmd":["sh","-c","echo hi"],"HostConfig":{}})"));
}

TEST(ContainerFlags, FlagsAfterImageBelongToCommand) {
  auto o = ParseContainerArgs({"-it", "--rm", "--name", "web", "img", "ls", "-l", "--rm"}, true);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_TRUE(o->interactive);
  EXPECT_TRUE(o->tty);
  EXPECT_TRUE(o->auto_remove);
  EXPECT_EQ(o->name, "web");
  EXPECT_EQ(o->image, "img");
  EXPECT_EQ(o->body, json::parse(R"({"Image":"img","Cmd":["ls","-l","--rm"],"Tty":true,"OpenStdin":true,
                                     "HostConfig":{"AutoRemove":true}})"));
}

TEST(ContainerFlags, DetachOnlyForRun) {
  auto o = ParseContainerArgs({"-d", "img"}, true);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->detach);
  EXPECT_FALSE(ParseContainerArgs({"-d", "img"}, false));
}

TEST(ContainerFlags, EnvLabelsUserWorkdirHostname) {
  setenv("MOOR_FLAGS_TEST_VAR", "fromenv", 1);
  unsetenv("MOOR_FLAGS_TEST_UNSET");
  EXPECT_EQ(Body({"-e", "A=1", "--env=B=", "-e", "MOOR_FLAGS_TEST_VAR", "-e", "MOOR_FLAGS_TEST_UNSET", "-l",
                  "k=v", "--label", "flag", "-u", "1000:1000", "-w", "/srv", "-h", "box", "img"}),
            json::parse(R"({"Image":"img","Env":["A=1","B=","MOOR_FLAGS_TEST_VAR=fromenv"],
              "Labels":{"k":"v","flag":""},"User":"1000:1000","WorkingDir":"/srv","Hostname":"box",
              "HostConfig":{}})"));
  EXPECT_EQ(Body({"--hostname", "h2", "img"})["Hostname"], "h2");
  EXPECT_NE(Err({"-e", "=x", "img"}).find("invalid variable"), std::string::npos);
  EXPECT_NE(Err({"-w", "rel", "img"}).find("must be absolute"), std::string::npos);
}

TEST(ContainerFlags, EnvFile) {
  char tmpl[] = "/tmp/moor-cli-test.XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  std::string f = std::string(tmpl) + "/env";
  ASSERT_TRUE(WriteFileAtomic(f, "# comment\n\nX=1\n  Y=two words \n"));
  EXPECT_EQ(Body({"--env-file", f, "-e", "Z=3", "img"})["Env"],
            json::parse(R"(["X=1","Y=two words","Z=3"])"));
  EXPECT_NE(Err({"--env-file", f + ".missing", "img"}).find("--env-file"), std::string::npos);
  ASSERT_TRUE(RemoveAll(tmpl));
}

TEST(ContainerFlags, EntrypointAndEmptyEntrypoint) {
  EXPECT_EQ(Body({"--entrypoint", "/bin/sh", "img"})["Entrypoint"], json::parse(R"(["/bin/sh"])"));
  EXPECT_EQ(Body({"--entrypoint=", "img"})["Entrypoint"], json::array());
}

TEST(ContainerFlags, PublishForms) {
  auto b = Body({"-p", "80", "-p", "8080:81", "-p", "127.0.0.1:8081:82", "-p", "5353:53/udp", "-p",
                 "127.0.0.1::83", "-p", "[::1]:9000:84", "--expose", "90", "--expose", "91-92/udp", "img"});
  EXPECT_EQ(b["ExposedPorts"], json::parse(R"({"80/tcp":{},"81/tcp":{},"82/tcp":{},"53/udp":{},"83/tcp":{},
                                                "84/tcp":{},"90/tcp":{},"91/udp":{},"92/udp":{}})"));
  EXPECT_EQ(b["HostConfig"]["PortBindings"], json::parse(R"({
    "80/tcp":[{"HostIp":"","HostPort":""}],
    "81/tcp":[{"HostIp":"","HostPort":"8080"}],
    "82/tcp":[{"HostIp":"127.0.0.1","HostPort":"8081"}],
    "53/udp":[{"HostIp":"","HostPort":"5353"}],
    "83/tcp":[{"HostIp":"127.0.0.1","HostPort":""}],
    "84/tcp":[{"HostIp":"::1","HostPort":"9000"}]})"));
  auto r = Body({"-p", "8000-8001:80-81", "img"});
  EXPECT_EQ(r["HostConfig"]["PortBindings"]["81/tcp"][0]["HostPort"], "8001");
  EXPECT_EQ(Body({"-p", "80:80", "-p", "81:80", "img"})["HostConfig"]["PortBindings"]["80/tcp"].size(), 2u);
}

TEST(ContainerFlags, PublishBadValues) {
  EXPECT_NE(Err({"-p", "70000:80", "img"}).find("invalid port \"70000\""), std::string::npos);
  EXPECT_NE(Err({"-p", "80/icmp", "img"}).find("invalid protocol"), std::string::npos);
  EXPECT_NE(Err({"-p", "8080:", "img"}).find("container port is missing"), std::string::npos);
  EXPECT_NE(Err({"-p", "a:b:c:d", "img"}).find("want"), std::string::npos);
  EXPECT_NE(Err({"-p", "8000-8002:80-81", "img"}).find("differ"), std::string::npos);
  EXPECT_NE(Err({"--expose", "x", "img"}).find("invalid port"), std::string::npos);
}

TEST(ContainerFlags, Volumes) {
  char cwd[4096];
  ASSERT_TRUE(getcwd(cwd, sizeof cwd));
  auto b = Body({"-v", "/host:/ctr", "-v", "/h2:/c2:ro", "-v", "data:/data:rw", "-v", "/h3:/c3:ro,rslave",
                 "-v", "./rel:/c4", "-v", "/anon", "img"});
  EXPECT_EQ(b["HostConfig"]["Binds"], json::array({"/host:/ctr", "/h2:/c2:ro", "data:/data:rw",
                                                   "/h3:/c3:ro,rslave", std::string(cwd) + "/rel:/c4"}));
  EXPECT_EQ(b["HostConfig"]["Mounts"],
            json::parse(R"([{"Type":"volume","Source":"","Target":"/anon","ReadOnly":false}])"));
  EXPECT_NE(Err({"-v", "/h:rel", "img"}).find("must be absolute"), std::string::npos);
  EXPECT_NE(Err({"-v", "/h:/c:ro,rw", "img"}).find("only one of ro and rw"), std::string::npos);
  EXPECT_NE(Err({"-v", "vol:/c:rshared", "img"}).find("only to bind"), std::string::npos);
  EXPECT_NE(Err({"-v", "/h:/c:bogus", "img"}).find("unknown option"), std::string::npos);
  EXPECT_NE(Err({"-v", "b@d:/c", "img"}).find("neither"), std::string::npos);
  EXPECT_NE(Err({"-v", "a:b:c:d", "img"}).find("want"), std::string::npos);
}

TEST(ContainerFlags, MountAndTmpfs) {
  auto b =
      Body({"--mount", "type=bind,source=/src,target=/dst,readonly,bind-propagation=rshared", "--mount",
            "type=volume,src=v1,dst=/v", "--mount", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777",
            "--mount", "target=/anon,ro=false", "--tmpfs", "/run:size=1m,mode=755", "--tmpfs", "/x", "img"});
  EXPECT_EQ(b["HostConfig"]["Mounts"], json::parse(R"([
    {"Type":"bind","Source":"/src","Target":"/dst","ReadOnly":true,"BindOptions":{"Propagation":"rshared"}},
    {"Type":"volume","Source":"v1","Target":"/v","ReadOnly":false},
    {"Type":"tmpfs","Source":"","Target":"/t","ReadOnly":false,
     "TmpfsOptions":{"SizeBytes":67108864,"Mode":1023}},
    {"Type":"volume","Source":"","Target":"/anon","ReadOnly":false}])"));
  EXPECT_EQ(b["HostConfig"]["Tmpfs"], json::parse(R"({"/run":"size=1m,mode=755","/x":""})"));
  EXPECT_NE(Err({"--mount", "type=nfs,target=/a", "img"}).find("type must be"), std::string::npos);
  EXPECT_NE(Err({"--mount", "type=bind,target=/a", "img"}).find("needs source"), std::string::npos);
  EXPECT_NE(Err({"--mount", "type=volume,source=v", "img"}).find("target must be"), std::string::npos);
  EXPECT_NE(Err({"--mount", "type=tmpfs,source=x,target=/a", "img"}).find("no source"), std::string::npos);
  EXPECT_NE(Err({"--mount", "type=volume,target=/a,tmpfs-size=1m", "img"}).find("only to type=tmpfs"),
            std::string::npos);
  EXPECT_NE(Err({"--mount", "type=tmpfs,target=/a,tmpfs-size=lots", "img"}).find("invalid size"),
            std::string::npos);
  EXPECT_NE(Err({"--mount", "target=/a,color=red", "img"}).find("unknown key \"color\""), std::string::npos);
  EXPECT_NE(Err({"--mount", "target=/a,readonly=maybe", "img"}).find("invalid boolean"), std::string::npos);
  EXPECT_NE(Err({"--tmpfs", "run", "img"}).find("absolute"), std::string::npos);
}

TEST(ContainerFlags, RestartPolicies) {
  EXPECT_EQ(Body({"--restart", "always", "img"})["HostConfig"]["RestartPolicy"],
            json::parse(R"({"Name":"always","MaximumRetryCount":0})"));
  EXPECT_EQ(Body({"--restart=on-failure:3", "img"})["HostConfig"]["RestartPolicy"],
            json::parse(R"({"Name":"on-failure","MaximumRetryCount":3})"));
  EXPECT_EQ(Body({"--restart", "unless-stopped", "img"})["HostConfig"]["RestartPolicy"]["Name"],
            "unless-stopped");
  EXPECT_EQ(Body({"--restart", "no", "--rm", "img"})["HostConfig"]["RestartPolicy"]["Name"], "no");
  EXPECT_NE(Err({"--restart", "always:3", "img"}).find("invalid policy"), std::string::npos);
  EXPECT_NE(Err({"--restart", "sometimes", "img"}).find("invalid policy"), std::string::npos);
  EXPECT_NE(Err({"--restart", "on-failure:x", "img"}).find("invalid policy"), std::string::npos);
  EXPECT_NE(Err({"--restart", "always", "--rm", "img"}).find("--restart and --rm"), std::string::npos);
}

TEST(ContainerFlags, ResourcesAndMisc) {
  auto b = Body({"-m",
                 "512m",
                 "--memory-swap",
                 "-1",
                 "--cpus",
                 "1.5",
                 "-c",
                 "512",
                 "--cpuset-cpus",
                 "0-2,4",
                 "--pids-limit",
                 "100",
                 "--blkio-weight",
                 "300",
                 "--oom-kill-disable",
                 "--init",
                 "--read-only",
                 "--stop-signal",
                 "SIGQUIT",
                 "--stop-timeout",
                 "5",
                 "--runtime",
                 "moor",
                 "img"});
  EXPECT_EQ(b, json::parse(R"({"Image":"img","StopSignal":"SIGQUIT","StopTimeout":5,"HostConfig":{
    "Memory":536870912,"MemorySwap":-1,"NanoCpus":1500000000,"CpuShares":512,"CpusetCpus":"0-2,4",
    "PidsLimit":100,"BlkioWeight":300,"OomKillDisable":true,"Init":true,"ReadonlyRootfs":true,
    "Runtime":"moor"}})"));
  EXPECT_EQ(Body({"--memory", "1g", "--memory-swap", "2g", "img"})["HostConfig"]["MemorySwap"], 2147483648LL);
  EXPECT_NE(Err({"-m", "lots", "img"}).find("--memory: invalid size \"lots\""), std::string::npos);
  EXPECT_NE(Err({"--cpus", "-1", "img"}).find("--cpus"), std::string::npos);
  EXPECT_NE(Err({"--cpus", "abc", "img"}).find("--cpus"), std::string::npos);
  EXPECT_NE(Err({"--cpu-shares", "x", "img"}).find("--cpu-shares"), std::string::npos);
  EXPECT_NE(Err({"--cpuset-cpus", "3-1", "img"}).find("--cpuset-cpus"), std::string::npos);
  EXPECT_NE(Err({"--pids-limit", "1.5", "img"}).find("--pids-limit"), std::string::npos);
  EXPECT_NE(Err({"--blkio-weight", "5", "img"}).find("--blkio-weight"), std::string::npos);
  EXPECT_NE(Err({"--stop-signal", "SIGNOPE", "img"}).find("invalid signal"), std::string::npos);
  EXPECT_NE(Err({"--stop-timeout", "soon", "img"}).find("--stop-timeout"), std::string::npos);
}

TEST(ContainerFlags, Network) {
  EXPECT_EQ(Body({"--network", "host", "img"})["HostConfig"]["NetworkMode"], "host");
  EXPECT_EQ(Body({"--net", "none", "img"})["HostConfig"]["NetworkMode"], "none");
  auto b = Body(
      {"--network", "mynet", "--ip", "10.1.0.5", "--network-alias", "db", "--network-alias", "pg", "img"});
  EXPECT_EQ(b["NetworkingConfig"], json::parse(R"({"EndpointsConfig":{"mynet":{
    "IPAMConfig":{"IPv4Address":"10.1.0.5"},"Aliases":["db","pg"]}}})"));
  EXPECT_NE(Err({"--ip", "10.0.0.2", "img"}).find("user-defined network"), std::string::npos);
  EXPECT_NE(Err({"--network", "bridge", "--network-alias", "x", "img"}).find("user-defined"),
            std::string::npos);
}

TEST(ContainerFlags, Healthcheck) {
  auto b = Body({"--health-cmd", "curl -f localhost", "--health-interval", "1m30s", "--health-timeout",
                 "500ms", "--health-retries", "3", "--health-start-period", "2s", "img"});
  EXPECT_EQ(b["Healthcheck"], json::parse(R"({"Test":["CMD-SHELL","curl -f localhost"],"Interval":90000000000,
    "Timeout":500000000,"Retries":3,"StartPeriod":2000000000})"));
  EXPECT_EQ(Body({"--no-healthcheck", "img"})["Healthcheck"], json::parse(R"({"Test":["NONE"]})"));
  EXPECT_NE(Err({"--no-healthcheck", "--health-cmd", "x", "img"}).find("conflicts"), std::string::npos);
  EXPECT_NE(Err({"--health-interval", "10", "img"}).find("invalid duration"), std::string::npos);
  EXPECT_NE(Err({"--health-retries", "-1", "img"}).find("--health-retries"), std::string::npos);
}

TEST(ContainerFlags, UsageErrors) {
  EXPECT_NE(Err({}).find("requires an image"), std::string::npos);
  EXPECT_NE(Err({"--bogus", "img"}).find("unknown flag"), std::string::npos);
  EXPECT_NE(Err({"--name", "bad name", "img"}).find("invalid name"), std::string::npos);
  EXPECT_NE(Err({"--pull", "sometimes", "img"}).find("--pull"), std::string::npos);
}

TEST(Units, Durations) {
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("10s"), 10'000'000'000);
  EXPECT_EQ(*ParseDuration("1m30s"), 90'000'000'000);
  EXPECT_EQ(*ParseDuration("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(*ParseDuration("250ms"), 250'000'000);
  EXPECT_EQ(*ParseDuration("3us"), 3000);
  for (auto* bad : {"", "10", "s", "1x", "-1s", "1m30", "1..5s"}) EXPECT_FALSE(ParseDuration(bad)) << bad;
}

TEST(Units, Bytes) {
  EXPECT_EQ(*ParseBytes("512"), 512);
  EXPECT_EQ(*ParseBytes("512b"), 512);
  EXPECT_EQ(*ParseBytes("64k"), 65536);
  EXPECT_EQ(*ParseBytes("512m"), 536870912);
  EXPECT_EQ(*ParseBytes("2G"), 2147483648LL);
  for (auto* bad : {"", "m", "1.5.2g", "-5", "12q", "-1"}) EXPECT_FALSE(ParseBytes(bad)) << bad;
}

}  // namespace
}  // namespace moor::cli
