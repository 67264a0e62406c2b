#include "runtime/cgroups/paths.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace moor::runtime::cgroups {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This machine's /proc/self/cgroup.
constexpr const char* kThisHost = R"(9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/c16e272cdb9ae4124dee705c94def45d
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
)";

TEST(ParseProcCgroup, ThisHost) {
  auto p = ParseProcCgroup(kThisHost);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->v1.size(), 9u);
  EXPECT_EQ(p->v1.at("memory"), "/process_api/c16e272cdb9ae4124dee705c94def45d");
  EXPECT_EQ(p->v1.at("name=systemd"), "/");
  ASSERT_TRUE(p->unified);
  EXPECT_EQ(*p->unified, "/");
}

TEST(ParseProcCgroup, ComountsV2AndColonsInPaths) {
  auto p = ParseProcCgroup("2:cpu,cpuacct:/a/b\n1:name=systemd:/user.slice/x:y\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->v1.at("cpu"), "/a/b");
  EXPECT_EQ(p->v1.at("cpuacct"), "/a/b");
  EXPECT_EQ(p->v1.at("name=systemd"), "/user.slice/x:y");
  EXPECT_FALSE(p->unified);
  auto v2 = ParseProcCgroup("0::/user.slice/session-1.scope\n");
  ASSERT_TRUE(v2);
  EXPECT_TRUE(v2->v1.empty());
  EXPECT_EQ(*v2->unified, "/user.slice/session-1.scope");
}

TEST(ParseProcCgroup, Malformed) {
  EXPECT_FALSE(ParseProcCgroup("nonsense\n"));
  EXPECT_FALSE(ParseProcCgroup("x:memory:/\n"));
  EXPECT_FALSE(ParseProcCgroup(":memory:/\n"));
}

TEST(ReadProcCgroup, Self) {
  auto p = ReadProcCgroup();
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(!p->v1.empty() || p->unified);
}

TEST(CleanCgroupPath, Normalises) {
  EXPECT_EQ(*CleanCgroupPath("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(*CleanCgroupPath("a/b"), "a/b");
  EXPECT_EQ(*CleanCgroupPath("./a"), "a");
}

TEST(CleanCgroupPath, RejectsDotDotAndRoots) {
  for (const char* bad : {"/a/../b", "..", "a/..", "../x"}) {
    auto r = CleanCgroupPath(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message(), HasSubstr("\"..\" is not allowed")) << bad;
    EXPECT_THAT(r.error().message(), HasSubstr("linux.cgroupsPath"));
  }
  for (const char* root : {"/", "", ".", "//", "./"}) {
    auto r = CleanCgroupPath(root);
    ASSERT_FALSE(r) << root;
    EXPECT_THAT(r.error().message(), HasSubstr("names a cgroup root"));
  }
}

TEST(SystemdPath, Detects) {
  EXPECT_TRUE(IsSystemdCgroupPath("system.slice:docker:abc"));
  EXPECT_TRUE(IsSystemdCgroupPath("::abc"));
  EXPECT_FALSE(IsSystemdCgroupPath("/system.slice:docker:abc"));
  EXPECT_FALSE(IsSystemdCgroupPath("a:b"));
  EXPECT_FALSE(IsSystemdCgroupPath("a:b:c:d"));
  EXPECT_FALSE(IsSystemdCgroupPath("moor/abc"));
}

TEST(SystemdPath, ConvertsToCgroupfs) {
  EXPECT_EQ(*SystemdToCgroupfsPath("system.slice:docker:abc"), "/system.slice/docker-abc.scope");
  EXPECT_EQ(*SystemdToCgroupfsPath("user-1000.slice::x"), "/user.slice/user-1000.slice/x.scope");
  EXPECT_EQ(*SystemdToCgroupfsPath("a-b-c.slice:p:n"), "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
  EXPECT_EQ(*SystemdToCgroupfsPath(":cri-containerd:1"), "/system.slice/cri-containerd-1.scope");
  EXPECT_EQ(*SystemdToCgroupfsPath("-.slice:p:n"), "/p-n.scope");
  EXPECT_EQ(*SystemdToCgroupfsPath("::kube-pods.slice"), "/kube.slice/kube-pods.slice");
}

TEST(SystemdPath, RejectsBadNames) {
  for (const char* bad : {"system:docker:abc", "system.slice:docker:", "a--b.slice:p:n", "-a.slice:p:n",
                          "a-.slice:p:n", "x/y.slice:p:n", "system.slice:docker:a/b", "system.slice:d/x:a",
                          "system.slice:docker:..", "a:b"}) {
    auto r = SystemdToCgroupfsPath(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_THAT(r.error().message(), HasSubstr("linux.cgroupsPath")) << bad;
    }
  }
}

TEST(ContainerCgroupPath, Forms) {
  EXPECT_EQ(*ContainerCgroupPath("", "c1"), "/moor/c1");
  EXPECT_EQ(*ContainerCgroupPath("/x/y", "c1"), "/x/y");
  EXPECT_EQ(*ContainerCgroupPath("x/y/", "c1"), "x/y");
  EXPECT_EQ(*ContainerCgroupPath("system.slice:docker:abc", "abc"), "/system.slice/docker-abc.scope");
  EXPECT_FALSE(ContainerCgroupPath("", ""));
  EXPECT_FALSE(ContainerCgroupPath("", "a/b"));
  EXPECT_FALSE(ContainerCgroupPath("", ".."));
  EXPECT_FALSE(ContainerCgroupPath("/x/../../etc", "c1"));
}

Layout HybridLayout() {
  Layout l;
  l.mode = Mode::kHybrid;
  for (const char* c : {"cpu", "cpuacct"}) l.v1[c] = {"/cg/cpu,cpuacct", "/"};
  l.v1["memory"] = {"/cg/memory", "/"};
  l.v1["name=systemd"] = {"/cg/systemd", "/"};
  l.unified = {"/cg/unified", "/"};
  l.unified_controllers = {"hugetlb"};
  return l;
}

TEST(ResolvePaths, AbsoluteIsBelowEachMountPoint) {
  auto p = ResolvePaths(HybridLayout(), "/moor/c1", {});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->v1.at("cpu"), "/cg/cpu,cpuacct/moor/c1");
  EXPECT_EQ(p->v1.at("cpuacct"), "/cg/cpu,cpuacct/moor/c1");
  EXPECT_EQ(p->v1.at("memory"), "/cg/memory/moor/c1");
  EXPECT_EQ(p->v1.at("name=systemd"), "/cg/systemd/moor/c1");
  EXPECT_EQ(p->unified, "/cg/unified/moor/c1");
  EXPECT_THAT(p->V1Dirs(), ElementsAre("/cg/cpu,cpuacct/moor/c1", "/cg/memory/moor/c1", "/cg/systemd/moor/c1"));
  EXPECT_EQ(p->AllDirs().size(), 4u);
  EXPECT_EQ(p->AllDirs().back(), "/cg/unified/moor/c1");
}

TEST(ResolvePaths, RelativeIsBelowOwnCgroup) {
  ProcCgroups self = *ParseProcCgroup("3:cpu,cpuacct:/a\n2:memory:/b/c\n1:name=systemd:/\n0::/u\n");
  auto p = ResolvePaths(HybridLayout(), "ctr/x", self);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->v1.at("cpu"), "/cg/cpu,cpuacct/a/ctr/x");
  EXPECT_EQ(p->v1.at("memory"), "/cg/memory/b/c/ctr/x");
  EXPECT_EQ(p->v1.at("name=systemd"), "/cg/systemd/ctr/x");
  EXPECT_EQ(p->unified, "/cg/unified/u/ctr/x");
}

TEST(ResolvePaths, RelativeStripsTheMountRoot) {
  Layout l;
  l.mode = Mode::kV1;
  l.v1["memory"] = {"/sys/fs/cgroup/memory", "/docker/abc"};
  ProcCgroups self = *ParseProcCgroup("4:memory:/docker/abc/inner\n");
  EXPECT_EQ(ResolvePaths(l, "x", self)->v1.at("memory"), "/sys/fs/cgroup/memory/inner/x");
  ProcCgroups at_root = *ParseProcCgroup("4:memory:/docker/abc\n");
  EXPECT_EQ(ResolvePaths(l, "x", at_root)->v1.at("memory"), "/sys/fs/cgroup/memory/x");
  ProcCgroups outside = *ParseProcCgroup("4:memory:/elsewhere\n");
  auto r = ResolvePaths(l, "x", outside);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("outside the mounted part"));
}

TEST(ResolvePaths, RelativeNeedsOwnEntry) {
  auto r = ResolvePaths(HybridLayout(), "x", *ParseProcCgroup("2:memory:/\n"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("no entry for the"));
}

TEST(ResolvePaths, V2UsesOnlyUnified) {
  Layout l;
  l.mode = Mode::kV2;
  l.unified = {"/sys/fs/cgroup", "/"};
  auto p = ResolvePaths(l, "/system.slice/docker-abc.scope", {});
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->v1.empty());
  EXPECT_EQ(p->unified, "/sys/fs/cgroup/system.slice/docker-abc.scope");
}

TEST(ResolvePaths, V1IgnoresUnified) {
  Layout l = HybridLayout();
  l.mode = Mode::kV1;
  auto p = ResolvePaths(l, "/a", {});
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->unified.empty());
}

TEST(ResolvePaths, RejectsDotDot) {
  EXPECT_FALSE(ResolvePaths(HybridLayout(), "/a/../../etc", {}));
}

}  // namespace
}  // namespace moor::runtime::cgroups
