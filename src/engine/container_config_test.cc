#include "engine/container_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace moor::engine {
namespace {

using json = nlohmann::json;
using Strings = std::vector<std::string>;

MountSpec Bind(const std::string& src, const std::string& dst, bool ro = false,
               const std::string& prop = "") {
  MountSpec m;
  m.type = "bind";
  m.source = src;
  m.target = dst;
  m.read_only = ro;
  m.propagation = prop;
  return m;
}

MountSpec Volume(const std::string& name, const std::string& dst) {
  MountSpec m;
  m.type = "volume";
  m.source = name;
  m.target = dst;
  return m;
}

MountSpec Tmpfs(const std::string& dst, int64_t size = 0, uint32_t mode = 0, bool noexec = false,
                bool ro = false) {
  MountSpec m;
  m.type = "tmpfs";
  m.target = dst;
  m.tmpfs_size = size;
  m.tmpfs_mode = mode;
  m.tmpfs_noexec = noexec;
  m.read_only = ro;
  return m;
}

// docs/api.md's create body with its "a|b" placeholders made concrete.
constexpr const char* kFullBody = R"({
  "Image": "busybox:latest", "Cmd": ["sh"], "Entrypoint": null, "Env": ["A=1"],
  "User": "", "WorkingDir": "", "Tty": false, "OpenStdin": false, "Hostname": "",
  "Labels": {"k": "v"}, "StopSignal": "SIGQUIT", "StopTimeout": 10,
  "ExposedPorts": {"80/tcp": {}},
  "Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 0, "Timeout": 0,
                  "StartPeriod": 0, "Retries": 0},
  "HostConfig": {
    "Binds": ["/host:/ctr:ro"], "Mounts": [{"Type": "bind", "Source": "/srv", "Target": "/srv",
                                           "ReadOnly": false, "BindOptions": {"Propagation": "rprivate"},
                                           "TmpfsOptions": {"SizeBytes": 0, "Mode": 0}}],
    "Tmpfs": {"/run": "size=64m"},
    "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
    "NetworkMode": "mynet",
    "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
    "AutoRemove": false, "Init": false, "ReadonlyRootfs": false,
    "Memory": 0, "MemorySwap": 0, "NanoCpus": 0, "CpuShares": 0, "CpusetCpus": "",
    "PidsLimit": 0, "BlkioWeight": 0, "OomKillDisable": false
  },
  "NetworkingConfig": {"EndpointsConfig": {"mynet": {"IPAMConfig": {"IPv4Address": ""}, "Aliases": []}}}
})";

ContainerConfig MustParse(const std::string& body) {
  auto c = ParseCreateBody(body);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message()) << "\nbody: " << body;
  return c ? *c : ContainerConfig{};
}

// {"Image":"busybox", "HostConfig": {host}} with `extra` top-level members.
std::string Body(const std::string& host, const std::string& extra = "") {
  return R"({"Image":"busybox")" + (extra.empty() ? "" : "," + extra) + R"(,"HostConfig":{)" + host + "}}";
}

TEST(ParseCreateBody, FullExampleFromApiDoc) {
  ContainerConfig c = MustParse(kFullBody);
  EXPECT_EQ(c.image, "busybox:latest");
  EXPECT_EQ(c.cmd, Strings{"sh"});
  EXPECT_FALSE(c.entrypoint.has_value());
  EXPECT_EQ(c.env, Strings{"A=1"});
  EXPECT_EQ(c.labels, (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_EQ(c.stop_signal, "SIGQUIT");
  EXPECT_EQ(c.stop_timeout, 10);
  EXPECT_EQ(c.exposed_ports, Strings{"80/tcp"});
  ASSERT_TRUE(c.healthcheck.has_value());
  EXPECT_EQ(c.healthcheck->test, (Strings{"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(c.healthcheck->interval_ns, 30'000'000'000);  // 0 = default
  EXPECT_EQ(c.healthcheck->retries, 3);

  ASSERT_EQ(c.mounts.size(), 3u);
  EXPECT_EQ(c.mounts[0], Bind("/host", "/ctr", true));
  EXPECT_EQ(c.mounts[1], Bind("/srv", "/srv", false, "rprivate"));
  EXPECT_EQ(c.mounts[2], Tmpfs("/run", 64 << 20));

  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0], (PortBinding{80, false, "", 8080}));
  EXPECT_EQ(c.network_mode, "mynet");
  EXPECT_EQ(c.restart, (RestartPolicySpec{"on-failure", 3}));
  EXPECT_FALSE(c.auto_remove);
  EXPECT_EQ(c.resources, ResourceSpec{});
}

TEST(ParseCreateBody, DefaultsForAMinimalBody) {
  ContainerConfig c = MustParse(R"({"Image":"alpine"})");
  ContainerConfig want;
  want.image = "alpine";
  EXPECT_EQ(c, want);
  EXPECT_EQ(c.network_mode, "bridge");
  EXPECT_EQ(c.restart.name, "no");
}

TEST(ParseCreateBody, AcceptsTheZeroValuesDockerClientsSend) {
  ContainerConfig c = MustParse(R"({
    "Image":"alpine","Domainname":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,
    "StdinOnce":false,"Volumes":{},"OnBuild":null,"MacAddress":"","NetworkDisabled":false,
    "HostConfig":{"Privileged":false,"CapAdd":null,"CapDrop":[],"Dns":[],"LogConfig":{"Type":"","Config":{}},
      "ConsoleSize":[24,80],"MemorySwappiness":-1,"CgroupnsMode":"private","IpcMode":"private",
      "NetworkMode":"default","Isolation":"","PidMode":"","ShmSize":0,"DeviceRequests":null,
      "RestartPolicy":{"Name":"","MaximumRetryCount":0},"Init":null},
    "NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null}}}})");
  EXPECT_EQ(c.network_mode, "bridge");
  EXPECT_EQ(c.restart.name, "no");
  EXPECT_TRUE(c.mounts.empty());
}

TEST(ParseCreateBody, CommandForms) {
  ContainerConfig c = MustParse(R"({"Image":"a","Cmd":"echo hi","Entrypoint":"/bin/sh"})");
  EXPECT_EQ(c.cmd, Strings{"echo hi"});
  EXPECT_EQ(c.entrypoint, Strings{"/bin/sh"});
  // `--entrypoint ""` (sent as [""]) and [] both clear the image's entrypoint.
  EXPECT_EQ(MustParse(R"({"Image":"a","Entrypoint":[""]})").entrypoint, Strings{});
  EXPECT_EQ(MustParse(R"({"Image":"a","Entrypoint":[]})").entrypoint, Strings{});
}

TEST(ParseCreateBody, BindsVolumesAndTmpfs) {
  ContainerConfig c =
      MustParse(Body(R"("Binds":["/h/../h2//x:/c/./d/:ro,rslave","myvol:/data:nocopy","/anon"],
      "Tmpfs":{"/scratch":"size=1g,mode=700,noexec,nosuid,nodev"},
      "Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":4096,"Mode":1023}},
                {"Type":"volume","Target":"/v",
                 "VolumeOptions":{"NoCopy":true,"DriverConfig":{"Name":"local"}}}])",
                     R"("Volumes":{"/data":{},"/cache":{}})"));
  ASSERT_EQ(c.mounts.size(), 7u);
  EXPECT_EQ(c.mounts[0], Bind("/h2/x", "/c/d", true, "rslave"));
  EXPECT_EQ(c.mounts[1], Volume("myvol", "/data"));
  EXPECT_EQ(c.mounts[2], Volume("", "/anon"));
  EXPECT_EQ(c.mounts[3], Tmpfs("/t", 4096, 01777));
  EXPECT_EQ(c.mounts[4], Volume("", "/v"));
  EXPECT_EQ(c.mounts[5], Tmpfs("/scratch", int64_t{1} << 30, 0700, true));
  // Config.Volumes: /data is already a named volume, /cache becomes anonymous.
  EXPECT_EQ(c.mounts[6], Volume("", "/cache"));
}

TEST(ParseCreateBody, PortBindings) {
  ContainerConfig c = MustParse(Body(
      R"("PortBindings":{"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],
                          "80":[{"HostPort":""},{"HostPort":"8080"}],
                          "443/tcp":null})",
      R"("ExposedPorts":{"9000/tcp":{}})"));
  ASSERT_EQ(c.ports.size(), 3u);
  EXPECT_EQ(c.ports[0], (PortBinding{53, true, "127.0.0.1", 5353}));
  EXPECT_EQ(c.ports[1], (PortBinding{80, false, "", 0}));
  EXPECT_EQ(c.ports[2], (PortBinding{80, false, "", 8080}));
  EXPECT_EQ(c.exposed_ports, (Strings{"443/tcp", "53/udp", "80/tcp", "9000/tcp"}));
  // The same host port on different addresses, or for the other protocol, is fine.
  EXPECT_EQ(MustParse(Body(R"("PortBindings":{"80":[{"HostIp":"127.0.0.1","HostPort":"8080"},
                                                   {"HostIp":"127.0.0.2","HostPort":"8080"}],
                                              "80/udp":[{"HostPort":"8080"}]})"))
                .ports.size(),
            3u);
}

TEST(ParseCreateBody, NetworkModesAndEndpoint) {
  ContainerConfig c = MustParse(Body(R"("NetworkMode":"appnet")",
                                     R"("NetworkingConfig":{"EndpointsConfig":{"appnet":
                                         {"IPAMConfig":{"IPv4Address":"10.1.0.5"},
                                          "Aliases":["db","db.local"]}}})"));
  EXPECT_EQ(c.ipv4_address, "10.1.0.5");
  EXPECT_EQ(c.network_aliases, (Strings{"db", "db.local"}));
  EXPECT_EQ(MustParse(Body(R"("NetworkMode":"container:/web")")).network_mode, "container:/web");
  EXPECT_EQ(MustParse(Body(R"("NetworkMode":"host")")).network_mode, "host");
  EXPECT_EQ(MustParse(Body(R"("NetworkMode":"none")")).network_mode, "none");
}

TEST(ParseCreateBody, ResourcesAndPolicies) {
  ContainerConfig c =
      MustParse(Body(R"("Memory":67108864,"MemorySwap":-1,"NanoCpus":500000000,"CpuShares":512,
      "CpusetCpus":"0-1,3","PidsLimit":-1,"BlkioWeight":10,"OomKillDisable":true,
      "RestartPolicy":{"Name":"always"},
      "Init":true,"ReadonlyRootfs":true,"Runtime":"moor-runtime")"));
  EXPECT_EQ(c.resources, (ResourceSpec{.memory = 64 << 20,
                                       .memory_swap = -1,
                                       .nano_cpus = 500'000'000,
                                       .cpu_shares = 512,
                                       .cpuset_cpus = "0-1,3",
                                       .pids_limit = 0,  // Docker: ≤ 0 is unlimited
                                       .blkio_weight = 10,
                                       .oom_kill_disable = true}));
  EXPECT_EQ(c.restart.name, "always");
  EXPECT_TRUE(c.init);
  EXPECT_TRUE(c.read_only_rootfs);
  EXPECT_EQ(c.runtime, "moor-runtime");
  EXPECT_EQ(MustParse(Body(R"("AutoRemove":true)")).auto_remove, true);
}

TEST(ParseCreateBody, HealthcheckForms) {
  auto health = [](const std::string& hc) {
    return MustParse(R"({"Image":"a","Healthcheck":)" + hc + "}").healthcheck;
  };
  auto h = health(R"({"Test":["CMD","/bin/check","-q"],"Interval":1000000000,"Timeout":2000000000,
                      "StartPeriod":3000000000,"Retries":5})");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(*h, (HealthSpec{{"CMD", "/bin/check", "-q"}, 1'000'000'000, 2'000'000'000, 3'000'000'000, 5}));
  EXPECT_TRUE(health(R"({"Test":["NONE"]})").has_value());
  EXPECT_TRUE(health(R"({"Test":["TCP","5432"]})").has_value());
  EXPECT_TRUE(health(R"({"Test":["HTTP","8080","/healthz"]})").has_value());
  EXPECT_TRUE(health(R"({"Test":["HTTP","8080","/healthz","204"]})").has_value());
  EXPECT_FALSE(health(R"({"Test":[]})").has_value());  // the image's
}

struct BadCase {
  std::string body;
  std::string expect;  // substring of the one-line error
};

class BadBody : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadBody, IsRejectedWithOneLineNamingTheField) {
  auto r = ParseCreateBody(GetParam().body);
  ASSERT_FALSE(r.has_value()) << GetParam().body;
  EXPECT_NE(r.error().message().find(GetParam().expect), std::string::npos)
      << "got: " << r.error().message() << "\nwant: " << GetParam().expect;
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
}

std::vector<BadCase> BadCases() {
  auto top = [](const std::string& members) { return R"({"Image":"busybox",)" + members + "}"; };
  auto hc = [](const std::string& members) { return Body(members); };
  return {
      {"{not json", "create body: not valid JSON"},
      {"[1]", "create body: expected a JSON object"},
      {R"({"Cmd":["sh"]})", "Image: required"},
      {top(R"("Cmd":5)"), "Cmd: expected an array of strings"},
      {top(R"("Env":["X"])"), R"(Env: "X": expected KEY=VALUE)"},
      {top(R"("Tty":"yes")"), "Tty: expected true or false"},
      {top(R"("WorkingDir":"app")"), R"(WorkingDir: "app": the working directory must be an absolute path)"},
      {top(R"("Hostname":"a b")"), R"(Hostname: "a b")"},
      {top(R"("StopSignal":"SIGNOPE")"), R"(StopSignal: "SIGNOPE")"},
      {top(R"("StopTimeout":-5)"), "StopTimeout: -5"},
      {top(R"("StopTimeout":1.5)"), "StopTimeout: expected an integer"},
      {top(R"("ExposedPorts":{"80/sctp":{}})"), R"(ExposedPorts: "80/sctp": protocol must be tcp or udp)"},
      {top(R"("ExposedPorts":{"0/tcp":{}})"),
       R"(ExposedPorts: "0/tcp": port must be a number from 1 to 65535)"},
      {top(R"("ExposedPorts":{"70000":{}})"), R"(ExposedPorts: "70000")"},
      {top(R"("ExposedPorts":{"80-90/tcp":{}})"), "ranges are not supported"},
      {top(R"("Healthcheck":{"Test":["FOO"]})"),
       R"(Healthcheck.Test: "FOO": the test kind must be NONE, CMD)"},
      {top(R"("Healthcheck":{"Test":["CMD"]})"), "CMD needs the command"},
      {top(R"("Healthcheck":{"Test":["CMD-SHELL"]})"), "CMD-SHELL takes one shell command"},
      {top(R"("Healthcheck":{"Test":["NONE","x"]})"), "NONE takes no arguments"},
      {top(R"("Healthcheck":{"Test":["TCP","0"]})"), R"(expected ["TCP", "PORT"])"},
      {top(R"("Healthcheck":{"Test":["HTTP","80","path"]})"), "Healthcheck.Test"},
      {top(R"("Healthcheck":{"Test":["HTTP","80","/","99"]})"), "STATUS"},
      {top(R"("Healthcheck":{"Test":["CMD","x"],"Interval":5})"), "Healthcheck.Interval: 5: must be 0"},
      {top(R"("Healthcheck":{"Test":["CMD","x"],"Retries":-1})"), "Healthcheck.Retries: -1"},
      {top(R"("Foo":1)"), "Foo: 1: moor does not support this field"},
      {top(R"("Volumes":{"rel":{}})"), R"(Volumes: "rel": container paths must be absolute)"},

      {hc(R"("Binds":["relative/path:/x"])"), R"(HostConfig.Binds: "relative/path": volume names need)"},
      {hc(R"("Binds":["a:/x"])"), R"(HostConfig.Binds: "a": volume names need at least two)"},
      {hc(R"("Binds":["/h:rel"])"), R"(HostConfig.Binds: "rel": container paths must be absolute)"},
      {hc(R"("Binds":["/h:/"])"), "cannot mount over the container's root"},
      {hc(R"("Binds":["/h:/x:rx"])"), R"(HostConfig.Binds: "/h:/x:rx": unknown option "rx")"},
      {hc(R"("Binds":["/h:/x:ro,rw"])"), "give ro or rw once"},
      {hc(R"("Binds":["vol:/x:rslave"])"), "propagation applies to bind mounts only"},
      {hc(R"("Binds":["a:b:c:d"])"), "expected SRC:DST[:OPTIONS]"},
      {hc(R"("Binds":["/h::ro"])"), "expected SRC:DST[:OPTIONS]"},
      {hc(R"("Mounts":[{"Type":"npipe","Target":"/x"}])"), R"(HostConfig.Mounts[0].Type: "npipe")"},
      {hc(R"("Mounts":[{"Type":"bind","Target":"/x"}])"),
       R"(HostConfig.Mounts[0].Source: "": a bind mount needs)"},
      {hc(R"("Mounts":[{"Type":"bind","Source":"rel","Target":"/x"}])"),
       "a bind mount needs an absolute host path"},
      {hc(R"("Mounts":[{"Type":"bind","Source":"/h"}])"), R"(HostConfig.Mounts[0].Target: "")"},
      {hc(R"("Mounts":[{"Type":"tmpfs","Source":"x","Target":"/x"}])"), "a tmpfs mount has no source"},
      {hc(R"("Mounts":[{"Type":"volume","Target":"/x","BindOptions":{"Propagation":"rshared"}}])"),
       "HostConfig.Mounts[0].BindOptions: "
       R"({"Propagation":"rshared"}: applies to type bind only)"},
      {hc(R"("Mounts":[{"Type":"bind","Source":"/h","Target":"/x","BindOptions":{"Propagation":"bogus"}}])"),
       R"(HostConfig.Mounts[0].BindOptions.Propagation: "bogus")"},
      {hc(R"("Mounts":[{"Type":"tmpfs","Target":"/x","TmpfsOptions":{"Mode":4096}}])"),
       "HostConfig.Mounts[0].TmpfsOptions.Mode: 4096"},
      {hc(R"("Mounts":[{"Type":"tmpfs","Target":"/x","TmpfsOptions":{"SizeBytes":-1}}])"), "SizeBytes: -1"},
      {hc(R"("Mounts":[{"Type":"volume","Target":"/x","VolumeOptions":{"DriverConfig":{"Name":"nfs"}}}])"),
       R"(VolumeOptions.DriverConfig.Name: "nfs")"},
      {hc(R"("Mounts":{})"), "HostConfig.Mounts: {}: expected an array"},
      {hc(R"("Tmpfs":{"/run":"size=abc"})"), R"(HostConfig.Tmpfs: "size=abc": size must be a byte count)"},
      {hc(R"("Tmpfs":{"/run":"size=-1"})"), R"(HostConfig.Tmpfs: "size=-1")"},
      {hc(R"("Tmpfs":{"/run":"mode=999"})"), R"(HostConfig.Tmpfs: "mode=999": mode must be octal)"},
      {hc(R"("Tmpfs":{"/run":"uid=1000"})"), R"("uid=1000": unsupported tmpfs option)"},
      {hc(R"("Tmpfs":{"run":""})"), R"(HostConfig.Tmpfs: "run")"},
      {hc(R"("PortBindings":{"80/xyz":[{"HostPort":"8080"}]})"),
       R"(HostConfig.PortBindings: "80/xyz": protocol must be tcp or udp)"},
      {hc(R"("PortBindings":{"80":[{"HostPort":"70000"}]})"),
       R"(HostConfig.PortBindings.80[0].HostPort: "70000")"},
      {hc(R"("PortBindings":{"80":[{"HostPort":"80-81"}]})"), "ranges are not supported"},
      {hc(R"("PortBindings":{"80":[{"HostIp":"nope","HostPort":"80"}]})"),
       R"(HostConfig.PortBindings.80[0].HostIp: "nope": expected an IP address)"},
      {hc(R"("PortBindings":{"80":[{"HostPort":"8080"}],"81":[{"HostPort":"8080"}]})"),
       "host port 8080/tcp is published twice"},
      {hc(R"("PortBindings":{"80":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"81":[{"HostPort":"8080"}]})"),
       "host port 8080/tcp is published twice"},
      {hc(R"("NetworkMode":"container:")"),
       R"(HostConfig.NetworkMode: "container:": expected container:NAME)"},
      {hc(R"("NetworkMode":"bad name!")"), R"(HostConfig.NetworkMode: "bad name!": use bridge, host, none)"},
      {hc(R"("RestartPolicy":{"Name":"sometimes"})"),
       R"(HostConfig.RestartPolicy.Name: "sometimes": use no, always, unless-stopped or on-failure)"},
      {hc(R"("RestartPolicy":{"Name":"always","MaximumRetryCount":3})"),
       "HostConfig.RestartPolicy.MaximumRetryCount: 3: a retry count applies to the on-failure policy only"},
      {hc(R"("RestartPolicy":{"Name":"on-failure","MaximumRetryCount":-1})"), "MaximumRetryCount: -1"},
      {hc(R"("Memory":1024)"), "HostConfig.Memory: 1024: must be at least 6 MiB"},
      {hc(R"("Memory":-1)"), "HostConfig.Memory: -1"},
      {hc(R"("MemorySwap":104857600)"), "HostConfig.MemorySwap: 104857600: needs Memory set too"},
      {hc(R"("Memory":104857600,"MemorySwap":10485760)"),
       "HostConfig.MemorySwap: 10485760: must be at least Memory"},
      {hc(R"("Memory":104857600,"MemorySwap":-2)"), "HostConfig.MemorySwap: -2"},
      {hc(R"("NanoCpus":-1)"), "HostConfig.NanoCpus: -1: CPUs must be from 0.01"},
      {hc(R"("NanoCpus":1000)"), "HostConfig.NanoCpus: 1000"},
      {hc(R"("NanoCpus":1000000000000000)"), "this host's CPUs"},
      {hc(R"("CpuShares":-1)"), "HostConfig.CpuShares: -1"},
      {hc(R"("CpusetCpus":"a-b")"), R"(HostConfig.CpusetCpus: "a-b": expected a CPU list)"},
      {hc(R"("CpusetCpus":"3-1")"), R"(HostConfig.CpusetCpus: "3-1")"},
      {hc(R"("BlkioWeight":5)"), "HostConfig.BlkioWeight: 5: must be from 10 to 1000"},
      {hc(R"("BlkioWeight":1001)"), "HostConfig.BlkioWeight: 1001"},
      {hc(R"("Privileged":true)"), "HostConfig.Privileged: true: moor does not support this field"},
      {hc(R"("CapAdd":["NET_ADMIN"])"), "HostConfig.CapAdd"},
      {hc(R"("LogConfig":{"Type":"syslog"})"), R"(HostConfig.LogConfig.Type: "syslog")"},
      {hc(R"("IpcMode":"host")"), R"(HostConfig.IpcMode: "host")"},
      {hc(R"("Memory":"1g")"), "HostConfig.Memory: expected an integer"},
  };
}

std::vector<BadCase> AllBadCases() {
  std::vector<BadCase> cases = BadCases();
  // Rules that span fields.
  cases.push_back({Body(R"("NetworkMode":"host")", R"("Hostname":"web")"),
                   R"(Hostname: "web": cannot be set with network mode "host")"});
  cases.push_back(
      {Body(R"("NetworkMode":"container:db")", R"("Hostname":"web")"), "cannot be set with network mode"});
  cases.push_back(
      {Body(R"("NetworkMode":"host","PortBindings":{"80":[{"HostPort":"80"}]})"),
       R"(HostConfig.PortBindings: "80/tcp": ports cannot be published with network mode "host")"});
  cases.push_back({Body(R"("NetworkMode":"none","PortBindings":{"80":[{}]})"), "cannot be published"});
  cases.push_back({Body(R"("AutoRemove":true,"RestartPolicy":{"Name":"always"})"),
                   R"(HostConfig.AutoRemove: true: cannot be combined with restart policy "always")"});
  cases.push_back(
      {Body(R"("Binds":["/h:/run"],"Tmpfs":{"/run":""})"), R"(HostConfig: "/run": mounted twice)"});
  cases.push_back(
      {Body("",
            R"("NetworkingConfig":{"EndpointsConfig":
               {"bridge":{"IPAMConfig":{"IPv4Address":"172.17.0.9"}}}})"),
       R"(IPAMConfig.IPv4Address: "172.17.0.9": addresses and aliases can be set on user-defined)"});
  cases.push_back(
      {Body(R"("NetworkMode":"a1")", R"("NetworkingConfig":{"EndpointsConfig":{"b2":{"Aliases":["x"]}}})"),
       R"(NetworkingConfig.EndpointsConfig: "b2": endpoint settings apply only to the network)"});
  cases.push_back(
      {Body(R"("NetworkMode":"a1")",
            R"("NetworkingConfig":{"EndpointsConfig":{"a1":{"IPAMConfig":{"IPv4Address":"1.2.3"}}}})"),
       R"(IPAMConfig.IPv4Address: "1.2.3": expected an IPv4 address)"});
  cases.push_back(
      {Body(R"("NetworkMode":"a1")", R"("NetworkingConfig":{"EndpointsConfig":{"a1":{"Aliases":["-x"]}}})"),
       R"(Aliases: "-x")"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(All, BadBody, ::testing::ValuesIn(AllBadCases()));

ContainerConfig EverythingSet() {
  ContainerConfig c;
  c.image = "reg:5000/app:1";
  c.cmd = {"serve", "--port", "80"};
  c.entrypoint = Strings{};
  c.env = {"A=1", "B=two words"};
  c.user = "1000:1000";
  c.working_dir = "/app";
  c.hostname = "web";
  c.tty = true;
  c.open_stdin = true;
  c.labels = {{"k", "v"}, {"com.example", "x"}};
  c.stop_signal = "SIGQUIT";
  c.stop_timeout = 0;
  c.exposed_ports = {"53/udp", "80/tcp"};
  c.healthcheck = HealthSpec{{"HTTP", "80", "/healthz", "204"}, 1, 2, 3, 4};
  c.mounts = {Bind("/h", "/c", true, "rslave"), Volume("vol", "/v"), Volume("", "/anon"),
              Tmpfs("/t", 1 << 20, 0700, true)};
  c.ports = {{80, false, "127.0.0.1", 8080}, {53, true, "", 0}};
  c.network_mode = "appnet";
  c.ipv4_address = "10.0.0.5";
  c.network_aliases = {"web", "www"};
  c.restart = {"on-failure", 5};
  c.auto_remove = true;
  c.init = true;
  c.read_only_rootfs = true;
  c.resources = {64 << 20, -1, 1'500'000'000, 512, "0-1", 100, 500, true};
  c.runtime = "alt";
  return c;
}

TEST(ConfigJson, RoundTripsExactly) {
  for (const ContainerConfig& c : {ContainerConfig{}, EverythingSet(), MustParse(kFullBody)}) {
    auto back = FromJson(ToJson(c));
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(*back, c) << ToJson(c);
  }
  // nullopt and an empty entrypoint stay different.
  ContainerConfig none = EverythingSet();
  none.entrypoint.reset();
  EXPECT_EQ(*FromJson(ToJson(none)), none);
  EXPECT_NE(*FromJson(ToJson(none)), EverythingSet());
}

TEST(ConfigJson, MissingFieldsTakeDefaultsAndBadTypesFail) {
  auto empty = FromJson("{}");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, ContainerConfig{});
  EXPECT_FALSE(FromJson("[]").has_value());
  EXPECT_FALSE(FromJson("nope").has_value());
  auto bad = FromJson(R"({"tty":"yes"})");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("stored container config"), std::string::npos);
}

TEST(InspectJson, ConfigHasDockersShape) {
  json j = json::parse(InspectConfigJson(MustParse(kFullBody)));
  EXPECT_EQ(j["Image"], "busybox:latest");
  EXPECT_EQ(j["Cmd"], json({"sh"}));
  EXPECT_TRUE(j["Entrypoint"].is_null());
  EXPECT_EQ(j["Env"], json({"A=1"}));
  EXPECT_EQ(j["ExposedPorts"], json::parse(R"({"80/tcp":{}})"));
  EXPECT_EQ(j["Labels"]["k"], "v");
  EXPECT_EQ(j["StopSignal"], "SIGQUIT");
  EXPECT_EQ(j["StopTimeout"], 10);
  EXPECT_EQ(j["Healthcheck"]["Test"], json({"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(j["Healthcheck"]["Interval"], 30'000'000'000);

  json e = json::parse(InspectConfigJson(EverythingSet()));
  EXPECT_EQ(e["Entrypoint"], json::array());
  EXPECT_EQ(e["Volumes"], json::parse(R"({"/anon":{}})"));
  EXPECT_EQ(e["Tty"], true);
}

TEST(InspectJson, HostConfigHasDockersShape) {
  json j = json::parse(InspectHostConfigJson(MustParse(kFullBody)));
  EXPECT_EQ(j["Binds"], json({"/host:/ctr:ro", "/srv:/srv:rprivate"}));
  EXPECT_EQ(j["Tmpfs"], json::parse(R"({"/run":"size=67108864"})"));
  EXPECT_EQ(j["PortBindings"], json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":"8080"}]})"));
  EXPECT_EQ(j["NetworkMode"], "mynet");
  EXPECT_EQ(j["RestartPolicy"], json::parse(R"({"Name":"on-failure","MaximumRetryCount":3})"));
  EXPECT_EQ(j["Mounts"].size(), 3u);
  EXPECT_EQ(j["Mounts"][1]["BindOptions"]["Propagation"], "rprivate");
  EXPECT_TRUE(j["PidsLimit"].is_null());

  json e = json::parse(InspectHostConfigJson(EverythingSet()));
  EXPECT_EQ(e["Binds"], json({"/h:/c:ro,rslave", "vol:/v"}));
  EXPECT_EQ(e["Tmpfs"]["/t"], "noexec,size=1048576,mode=700");
  EXPECT_EQ(e["PortBindings"]["53/udp"][0]["HostPort"], "");
  EXPECT_EQ(e["Memory"], 64 << 20);
  EXPECT_EQ(e["MemorySwap"], -1);
  EXPECT_EQ(e["NanoCpus"], 1'500'000'000);
  EXPECT_EQ(e["PidsLimit"], 100);
  EXPECT_EQ(e["Init"], true);
  EXPECT_EQ(e["Runtime"], "alt");
}

}  // namespace
}  // namespace moor::engine
