#include "oci/spec_serialize.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/ops.h"

namespace moor::image {
namespace {

using nlohmann::json;

TEST(SpecToJson, DefaultSpecRoundTripsExactly) {
  for (bool rootless : {false, true}) {
    std::string text = runtime::DefaultSpecJson(rootless);
    auto spec = oci::ParseSpec(text);
    ASSERT_TRUE(spec) << spec.error().message();
    json want = json::parse(text), got = json::parse(oci::SpecToJson(*spec));
    EXPECT_EQ(got, want) << "rootless=" << rootless << "\n" << got.dump(1);
  }
}

TEST(SpecToJson, EveryPopulatedFieldSurvivesAParse) {
  const char* text = R"({
    "ociVersion": "1.1.0",
    "process": {"terminal": false, "consoleSize": {"height": 24, "width": 80},
      "user": {"uid": 5, "gid": 6, "umask": 18, "additionalGids": [7, 8]},
      "args": ["a", "b"], "env": ["K=V"], "cwd": "/w", "oomScoreAdj": -5,
      "capabilities": {"bounding": ["CAP_KILL"], "ambient": ["CAP_CHOWN"]},
      "rlimits": [{"type": "RLIMIT_CORE", "hard": 1, "soft": 0}],
      "apparmorProfile": "p", "selinuxLabel": "l"},
    "root": {"path": "/r", "readonly": true},
    "hostname": "h", "domainname": "d",
    "mounts": [{"destination": "/m", "type": "bind", "source": "/s", "options": ["rbind", "ro"]}],
    "hooks": {"prestart": [{"path": "/p", "args": ["p"], "env": ["E=1"], "timeout": 3}],
              "poststop": [{"path": "/q"}]},
    "annotations": {"a": "b"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
      "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
      "devices": [{"type": "c", "path": "/dev/x", "major": 1, "minor": 3, "fileMode": 438, "uid": 0}],
      "cgroupsPath": "/x/y",
      "resources": {"memory": {"limit": 100, "swap": -1, "disableOOMKiller": true},
        "cpu": {"shares": 2, "quota": 1000, "cpus": "0-1", "idle": 0}, "pids": {"limit": 10},
        "blockIO": {"weight": 10, "weightDevice": [{"major": 8, "minor": 0, "weight": 5}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 9}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4}], "unified": {"io.max": "x"},
        "devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]},
      "sysctl": {"net.ipv4.ip_forward": "1"},
      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"], "listenerPath": "/l",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 2,
                      "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]},
      "rootfsPropagation": "rslave", "maskedPaths": ["/m"], "readonlyPaths": ["/r"], "mountLabel": "ml"}
  })";
  auto spec = oci::ParseSpec(text);
  ASSERT_TRUE(spec) << spec.error().message();
  std::string once = oci::SpecToJson(*spec);
  auto again = oci::ParseSpec(once);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(oci::SpecToJson(*again), once);
  EXPECT_EQ(json::parse(once), json::parse(text)) << once;
}

}  // namespace
}  // namespace moor::image
