#include "runtime/cgroups/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"

namespace moor::runtime::cgroups {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This machine's /proc/self/mountinfo (Debian 12, systemd hybrid layout with
// cpu and cpuacct mounted separately and hugetlb only on the unified mount).
constexpr const char* kThisHost = R"(22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334524k,nr_inodes=3083631,mode=755
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
)";

// A classic systemd hybrid host: comounts, optional fields, extra options.
constexpr const char* kSystemdHybrid =
    R"(25 30 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
32 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
33 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpuset,clone_children
)";

constexpr const char* kPureV2 =
    R"(27 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
)";

TEST(ParseMountinfo, ThisHostsFormat) {
  auto m = ParseMountinfo(kThisHost);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->v1.size(), 9u);
  EXPECT_EQ(m->v1.at("cpu").mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(m->v1.at("cpuacct").mount_point, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(m->v1.at("memory").mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m->v1.at("memory").root, "/");
  EXPECT_EQ(m->v1.at("name=systemd").mount_point, "/sys/fs/cgroup/systemd");
  EXPECT_EQ(m->unified.mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m->v1.count("rw"), 0u);
  EXPECT_EQ(m->v1.count("hugetlb"), 0u);
}

TEST(ParseMountinfo, ComountsAndIgnoredOptions) {
  auto m = ParseMountinfo(kSystemdHybrid);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->v1.at("cpu").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m->v1.at("cpuacct").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m->v1.at("net_prio").mount_point, "/sys/fs/cgroup/net_cls,net_prio");
  EXPECT_EQ(m->v1.at("cpuset").mount_point, "/sys/fs/cgroup/cpuset");
  for (const char* not_controller : {"rw", "xattr", "clone_children", "nsdelegate", "ro"})
    EXPECT_EQ(m->v1.count(not_controller), 0u) << not_controller;
  EXPECT_EQ(m->unified.mount_point, "/sys/fs/cgroup/unified");
}

TEST(ParseMountinfo, UnescapesMountPointsAndKeepsRoot) {
  auto m = ParseMountinfo(
      "50 1 0:40 /docker/abc /mnt/my\\040cgroups/memory rw - cgroup cgroup rw,memory\n"
      "51 1 0:40 / /other/memory rw - cgroup cgroup rw,memory\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->v1.at("memory").mount_point, "/mnt/my cgroups/memory");  // first mount wins
  EXPECT_EQ(m->v1.at("memory").root, "/docker/abc");
}

TEST(ParseMountinfo, RejectsMalformedCgroupLineOnly) {
  EXPECT_TRUE(ParseMountinfo("garbage line\n\n"));
  auto bad = ParseMountinfo("1 2 0:3 / /sys/fs/cgroup/memory rw - cgroup\n");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("line 1"));
  EXPECT_FALSE(ParseMountinfo("1 2 0:3 / /sys/fs/cgroup/memory rw - cgroup cgroup\n"));  // no super options
}

TEST(MakeLayout, HybridOnThisHost) {
  auto l = MakeLayout(*ParseMountinfo(kThisHost), "hugetlb\n", {"2MB", "1GB"});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mode, Mode::kHybrid);
  EXPECT_EQ(ModeName(l->mode), "hybrid");
  EXPECT_THAT(l->unified_controllers, ElementsAre("hugetlb"));
  EXPECT_TRUE(l->HasUnifiedController("hugetlb"));
  EXPECT_FALSE(l->HasUnifiedController("memory"));
  EXPECT_TRUE(l->HasV1("memory"));
  EXPECT_FALSE(l->HasV1("hugetlb"));
}

TEST(MakeLayout, PureV2) {
  auto l = MakeLayout(*ParseMountinfo(kPureV2), "cpuset cpu io memory hugetlb pids rdma misc\n", {});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mode, Mode::kV2);
  EXPECT_EQ(l->unified.mount_point, "/sys/fs/cgroup");
  EXPECT_THAT(l->unified_controllers, ElementsAre("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"));
  EXPECT_TRUE(l->v1.empty());
}

TEST(MakeLayout, V2WithOnlyANamedV1HierarchyIsV2) {
  std::string text = std::string(kPureV2) +
                     "28 27 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
  auto l = MakeLayout(*ParseMountinfo(text), "memory pids", {});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mode, Mode::kV2);
  EXPECT_TRUE(l->v1.empty());
}

TEST(MakeLayout, V1Only) {
  std::string text;
  for (const char* line : {"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
                           "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"})
    text += line;
  auto l = MakeLayout(*ParseMountinfo(text), "ignored", {});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mode, Mode::kV1);
  EXPECT_FALSE(l->HasUnified());
  EXPECT_TRUE(l->unified_controllers.empty());
}

TEST(MakeLayout, NoCgroupsIsAnError) {
  auto l = MakeLayout(*ParseMountinfo("22 27 0:21 / /proc rw - proc proc rw\n"), "", {});
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("no cgroup filesystem is mounted"));
}

TEST(HugepageSizes, FromSysfsNames) {
  EXPECT_THAT(HugepageSizesFromDirNames({".", "..", "hugepages-1048576kB", "hugepages-2048kB", "hugepages-64kB",
                                         "junk", "hugepages-kB", "hugepages-0kB"}),
              ElementsAre("64KB", "2MB", "1GB"));
}

TEST(ReadLayout, ThisHost) {
  if (!PathExists("/proc/self/mountinfo")) GTEST_SKIP() << "no /proc/self/mountinfo";
  auto l = ReadLayout();
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(!l->v1.empty() || l->HasUnified());
  if (PathExists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
    EXPECT_TRUE(l->HasV1("memory"));
  }
  if (PathExists("/sys/kernel/mm/hugepages/hugepages-2048kB")) {
    EXPECT_NE(std::find(l->hugepage_sizes.begin(), l->hugepage_sizes.end(), "2MB"), l->hugepage_sizes.end());
  }
}

}  // namespace
}  // namespace moor::runtime::cgroups
