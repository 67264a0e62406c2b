#include <gtest/gtest.h>

#include "oci/spec.h"

namespace moor::oci {
namespace {

const char* kMinimal = R"({
  "ociVersion": "1.0.2",
  "process": {"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"],
              "user": {"uid": 1, "gid": 2, "additionalGids": [3, 4], "umask": 18},
              "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
              "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]}},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "uts"}, {"type": "network", "path": "/run/netns/x"}],
            "resources": {"memory": {"limit": 1048576, "swap": -1}, "pids": {"limit": 10},
                          "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}},
            "sysctl": {"net.ipv4.ip_forward": "1"}}
})";

Spec MustParse(const std::string& text) {
  auto r = ParseSpec(text);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : Spec{};
}

TEST(ParseSpec, ReadsEveryCommonField) {
  Spec s = MustParse(kMinimal);
  ASSERT_TRUE(s.process);
  EXPECT_EQ(s.process->args[0], "/bin/true");
  EXPECT_EQ(s.process->user.uid, 1u);
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(s.process->user.umask, 18u);
  EXPECT_EQ(s.process->rlimits.at(0).soft, 512u);
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.linux.namespaces.size(), 3u);
  EXPECT_EQ(s.FindNamespace("network")->path, "/run/netns/x");
  EXPECT_EQ(s.linux.resources->memory->swap, -1);
  EXPECT_EQ(s.linux.resources->cpu->cpus, "0");
  EXPECT_EQ(s.linux.resources->pids->limit, 10);
  EXPECT_TRUE(ValidateSpec(s)) << ValidateSpec(s).error().message();
}

TEST(ParseSpec, TypeErrorsNameTheField) {
  auto r = ParseSpec(R"({"ociVersion":"1.0.2","process":{"user":{"uid":-1}}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "process.user.uid: expected an unsigned integer");
  r = ParseSpec(R"({"mounts":[{"destination":"/a"},{"destination":5}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "mounts[1].destination: expected a string");
  r = ParseSpec("{not json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "not valid JSON");
}

struct BadCase {
  std::string patch_path;  // what we break
  std::string json;
  std::string expect_prefix;
};

class ValidateSpecBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ValidateSpecBad, RejectsWithFieldName) {
  auto parsed = ParseSpec(GetParam().json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  auto r = ValidateSpec(*parsed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind(GetParam().expect_prefix, 0), 0u) << r.error().message();
}

std::string With(const std::string& process, const std::string& rest = "") {
  return R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":)" + process + rest + "}";
}
const std::string kProc = R"({"args":["sh"],"cwd":"/"})";

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateSpecBad,
    ::testing::Values(
        BadCase{"args", With(R"({"cwd":"/"})"), "process.args:"},
        BadCase{"cwd", With(R"({"args":["sh"],"cwd":"tmp"})"), "process.cwd:"},
        BadCase{"cwd-fd", With(R"({"args":["sh"],"cwd":"/proc/self/fd/7"})"), "process.cwd:"},
        BadCase{"env", With(R"({"args":["sh"],"cwd":"/","env":["NOEQUALS"]})"), "process.env[0]:"},
        BadCase{"cap", With(R"({"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_FOO"]}})"),
                "process.capabilities.bounding[0]:"},
        BadCase{"rlimit", With(R"({"args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_X","hard":1,"soft":1}]})"),
                "process.rlimits[0].type:"},
        BadCase{"rlimit-order", With(R"({"args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}]})"),
                "process.rlimits[0]:"},
        BadCase{"ns-type", With(kProc, R"(,"linux":{"namespaces":[{"type":"bogus"}]})"), "linux.namespaces[0].type:"},
        BadCase{"ns-dup", With(kProc, R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]})"),
                "linux.namespaces[1].type:"},
        BadCase{"userns-maps", With(kProc, R"(,"linux":{"namespaces":[{"type":"user"}]})"), "linux.uidMappings:"},
        BadCase{"hostname", With(kProc, R"(,"hostname":"x")"), "hostname:"},
        BadCase{"mount-rel", With(kProc, R"(,"mounts":[{"destination":"proc","type":"proc"}])"), "mounts[0].destination:"},
        BadCase{"sysctl-host", With(kProc, R"(,"linux":{"sysctl":{"kernel.core_pattern":"|/x"}})"),
                "linux.sysctl.kernel.core_pattern:"},
        BadCase{"sysctl-plus", With(kProc, R"(,"linux":{"namespaces":[{"type":"ipc"}],"sysctl":{"kernel.shmmax":"1+kernel.core_pattern=x"}})"),
                "linux.sysctl.kernel.shmmax:"},
        BadCase{"sysctl-nons", With(kProc, R"(,"linux":{"sysctl":{"net.ipv4.ip_forward":"1"}})"),
                "linux.sysctl.net.ipv4.ip_forward:"},
        BadCase{"cgroup-dotdot", With(kProc, R"(,"linux":{"cgroupsPath":"/a/../../b"})"), "linux.cgroupsPath:"},
        BadCase{"version", R"({"ociVersion":"2.0.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/"}})",
                "ociVersion:"}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) {
      std::string name = param_info.param.patch_path;
      for (auto& c : name)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

}  // namespace
}  // namespace moor::oci
