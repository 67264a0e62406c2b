// Unit tests of the runtime's pure planning code: namespaces, rootfs plan,
// state serialisation, ids and signals.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>

#include "runtime/container_state.h"
#include "runtime/namespaces.h"
#include "runtime/ops.h"
#include "runtime/rootfs_plan.h"

namespace moor::runtime {
namespace {

oci::Spec SpecWith(const std::string& extra) {
  std::string text = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"})" + extra + "}";
  auto s = oci::ParseSpec(text);
  EXPECT_TRUE(s) << s.error().message();
  return *s;
}

TEST(PlanNamespaces, NewNamespacesBecomeCloneFlagsCgroupIsDeferred) {
  auto spec = SpecWith(R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"network"},{"type":"cgroup"}]})");
  auto plan = PlanNamespaces(spec);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->clone_flags, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET);
  EXPECT_TRUE(plan->new_cgroup_ns);
  EXPECT_TRUE(plan->joins.empty());
}

TEST(PlanNamespaces, JoinsByPathUserFirst) {
  auto spec = SpecWith(
      R"(,"linux":{"namespaces":[{"type":"network","path":"/run/netns/a"},{"type":"user","path":"/proc/1/ns/user"}]})");
  auto plan = PlanNamespaces(spec);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->joins.size(), 2u);
  EXPECT_EQ(plan->joins[0].flag, CLONE_NEWUSER);
  EXPECT_EQ(plan->joins[1].path, "/run/netns/a");
}

TEST(PlanNamespaces, RefusesJoinedUserWithNewOthers) {
  auto spec = SpecWith(R"(,"linux":{"namespaces":[{"type":"user","path":"/proc/1/ns/user"},{"type":"mount"}]})");
  auto plan = PlanNamespaces(spec);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message().find("user namespace"), std::string::npos);
}

TEST(PlanRootfs, BindsAreAbsoluteDevicesMergedPropagationDefaultsToSlave) {
  auto spec = SpecWith(R"(,"mounts":[{"destination":"/data","type":"none","source":"data","options":["rbind","ro"]},
                          {"destination":"/tmp","type":"tmpfs","options":["nosuid","size=1m"]}],
                          "linux":{"devices":[{"type":"c","path":"/dev/null","major":1,"minor":3,"fileMode":438},
                                              {"type":"c","path":"/dev/fuse","major":10,"minor":229}]})");
  auto plan = PlanRootfs(spec, "/b", {}, false);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->rootfs, "/b/rootfs");
  ASSERT_EQ(plan->mounts.size(), 2u);
  EXPECT_EQ(plan->mounts[0].type, "bind");
  EXPECT_EQ(plan->mounts[0].source, "/b/data");
  EXPECT_TRUE(plan->mounts[0].options.recursive);
  EXPECT_TRUE(plan->mounts[0].options.readonly());
  EXPECT_EQ(plan->mounts[1].source, "tmpfs");
  EXPECT_EQ(plan->mounts[1].options.data, "size=1m");
  EXPECT_EQ(plan->root_propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(plan->devices.size(), DefaultDevices().size() + 1);  // /dev/null replaced, /dev/fuse added
  bool fuse = false;
  for (const auto& d : plan->devices) fuse |= d.path == "/dev/fuse" && d.major == 10 && d.minor == 229;
  EXPECT_TRUE(fuse);
}

TEST(PlanRootfs, HostDevBindMeansNoDeviceNodes) {
  auto spec = SpecWith(R"(,"mounts":[{"destination":"/dev","type":"bind","source":"/dev","options":["rbind"]}])");
  auto plan = PlanRootfs(spec, "/b", {}, false);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->dev_is_bind);
  EXPECT_TRUE(plan->devices.empty());
}

TEST(PlanRootfs, UserNamespaceBindsDevicesAndSharedPropagationIsKept) {
  auto spec = SpecWith(R"(,"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
                          "gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"rootfsPropagation":"rshared"})");
  auto plan = PlanRootfs(spec, "/b", {}, false);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->bind_devices);
  EXPECT_EQ(plan->root_propagation, static_cast<unsigned long>(MS_SHARED | MS_REC));
  EXPECT_EQ(plan->final_propagation, static_cast<unsigned long>(MS_SHARED | MS_REC));
}

TEST(PlanRootfs, BadMountsNameTheField) {
  auto no_src = PlanRootfs(SpecWith(R"(,"mounts":[{"destination":"/x","options":["bind"]}])"), "/b", {}, false);
  ASSERT_FALSE(no_src);
  EXPECT_EQ(no_src.error().message(), "mounts[0].source: a bind mount needs a source");
  auto no_type = PlanRootfs(SpecWith(R"(,"mounts":[{"destination":"/x"}])"), "/b", {}, false);
  ASSERT_FALSE(no_type);
  EXPECT_EQ(no_type.error().message().rfind("mounts[0].type:", 0), 0u);
}

TEST(ContainerState, RoundTrips) {
  ContainerState s;
  s.id = "web-1";
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.pid = 42;
  s.pid_start_time = 123456;
  s.created = "2026-01-01T00:00:00Z";
  s.cgroups_path = "/moor/web-1";
  s.annotations = {{"a", "b"}};
  auto back = ParseState(SerializeState(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->pid_start_time, 123456u);
  EXPECT_EQ(back->annotations.at("a"), "b");
  EXPECT_FALSE(ParseState("{}"));
  EXPECT_FALSE(ParseState("nope"));
}

TEST(ContainerState, OciJsonHidesPidWhenStopped) {
  ContainerState s;
  s.id = "x";
  s.pid = 7;
  EXPECT_NE(OciStateJson(s, Status::kRunning).find("\"pid\": 7"), std::string::npos);
  EXPECT_NE(OciStateJson(s, Status::kStopped).find("\"pid\": 0"), std::string::npos);
  EXPECT_NE(OciStateJson(s, Status::kCreating).find("\"creating\""), std::string::npos);
}

TEST(ContainerId, Validation) {
  EXPECT_TRUE(ValidateContainerId("abc-1_2.3+x"));
  EXPECT_FALSE(ValidateContainerId(""));
  EXPECT_FALSE(ValidateContainerId(".."));
  EXPECT_FALSE(ValidateContainerId("a/b"));
  EXPECT_FALSE(ValidateContainerId(std::string(1025, 'a')));
}

TEST(ParseSignal, NamesNumbersAndPrefixes) {
  EXPECT_EQ(*ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("SIGKILL"), SIGKILL);
  EXPECT_EQ(*ParseSignal("hup"), SIGHUP);
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_FALSE(ParseSignal("NOPE"));
  EXPECT_FALSE(ParseSignal("0"));
  EXPECT_FALSE(ParseSignal("999"));
}

TEST(ProcessStartTime, SelfIsAliveAndBogusPidIsNot) {
  uint64_t t = ProcessStartTime(getpid());
  EXPECT_GT(t, 0u);
  EXPECT_TRUE(ProcessAlive(getpid(), t));
  EXPECT_FALSE(ProcessAlive(getpid(), t + 1));
  EXPECT_FALSE(ProcessAlive(0x3ffffff, t));
}

}  // namespace
}  // namespace moor::runtime
