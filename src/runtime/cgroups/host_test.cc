// Real-host tests: run as root on this machine's cgroup v1 hierarchies (and
// the unified mount's hugetlb when offered). Each test uses a cgroup with a
// unique name and asserts that nothing of it is left. Skips, saying what is
// missing, when not root or when a hierarchy is absent.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/manager.h"

namespace moor::runtime::cgroups {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr int64_t kMiB = 1 << 20;

std::string Read(const std::string& path) {
  auto r = ReadFile(path);
  return r ? std::string(Trim(*r)) : "<" + r.error().message() + ">";
}

class HostCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto l = ReadLayout();
    if (!l) GTEST_SKIP() << "cannot read the cgroup layout: " << l.error().message();
    if (l->mode == Mode::kV2) GTEST_SKIP() << "needs cgroup v1 hierarchies; this host is cgroup v2 only";
    for (const char* c : {"memory", "pids", "cpu", "cpuacct", "cpuset", "freezer"})
      if (!l->HasV1(c)) GTEST_SKIP() << "needs the cgroup v1 \"" << c << "\" hierarchy, which is not mounted";
    layout_ = *l;
    static int counter = 0;
    name_ = "/moor-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  }

  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    if (manager_) {
      CgroupPaths p = manager_->Paths();
      auto r = manager_->Destroy();
      EXPECT_TRUE(r) << r.error().message();
      for (const std::string& dir : p.AllDirs()) EXPECT_FALSE(PathExists(dir)) << dir << " was left behind";
    }
  }

  std::string Dir(const std::string& controller) const { return manager_->Paths().v1.at(controller); }

  pid_t ForkSleeper() {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
    return pid;
  }

  Layout layout_;
  std::string name_;
  std::unique_ptr<CgroupManager> manager_;
  pid_t child_ = -1;
};

TEST_F(HostCgroups, LimitsProcessFreezeKillDestroy) {
  auto m = OpenCgroupManager(layout_, name_, "unused");
  ASSERT_TRUE(m) << m.error().message();
  manager_ = std::move(*m);
  bool swap = PathExists(layout_.v1.at("memory").mount_point + "/memory.memsw.limit_in_bytes");

  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 100 * kMiB + 123;  // the kernel keeps whole pages
  if (swap) r.memory->swap = 200 * kMiB;
  r.pids = oci::PidsResources{16};
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  auto created = CreateWithResources(*manager_, r);
  ASSERT_TRUE(created) << created.error().message();

  long page = ::sysconf(_SC_PAGESIZE);
  EXPECT_EQ(Read(Dir("memory") + "/memory.limit_in_bytes"), std::to_string((100 * kMiB + 123) / page * page));
  if (swap) {
    EXPECT_EQ(Read(Dir("memory") + "/memory.memsw.limit_in_bytes"), std::to_string(200 * kMiB));
  }
  EXPECT_EQ(Read(Dir("pids") + "/pids.max"), "16");
  EXPECT_EQ(Read(Dir("cpu") + "/cpu.shares"), "512");
  EXPECT_EQ(Read(Dir("cpu") + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(Read(Dir("cpu") + "/cpu.cfs_period_us"), "100000");
  std::string parent_cpus = Read(layout_.v1.at("cpuset").mount_point + "/cpuset.cpus");
  EXPECT_EQ(Read(Dir("cpuset") + "/cpuset.cpus"), parent_cpus);

  if (swap) {
    // Raising and lowering both need the right order, or the kernel says EINVAL.
    oci::Resources up;
    up.memory.emplace();
    up.memory->limit = 300 * kMiB;
    up.memory->swap = 400 * kMiB;
    auto raised = manager_->Apply(up);
    ASSERT_TRUE(raised) << raised.error().message();
    EXPECT_EQ(Read(Dir("memory") + "/memory.limit_in_bytes"), std::to_string(300 * kMiB));
    EXPECT_EQ(Read(Dir("memory") + "/memory.memsw.limit_in_bytes"), std::to_string(400 * kMiB));
    oci::Resources down;
    down.memory.emplace();
    down.memory->limit = 50 * kMiB;
    down.memory->swap = 60 * kMiB;
    auto lowered = manager_->Apply(down);
    ASSERT_TRUE(lowered) << lowered.error().message();
    EXPECT_EQ(Read(Dir("memory") + "/memory.limit_in_bytes"), std::to_string(50 * kMiB));
    EXPECT_EQ(Read(Dir("memory") + "/memory.memsw.limit_in_bytes"), std::to_string(60 * kMiB));
    oci::Resources unlimited;
    unlimited.memory.emplace();
    unlimited.memory->limit = -1;
    ASSERT_TRUE(manager_->Apply(unlimited));
    EXPECT_FALSE(manager_->Stats()->memory_limit);
  }

  child_ = ForkSleeper();
  ASSERT_GT(child_, 0);
  auto added = manager_->AddProcess(child_);
  ASSERT_TRUE(added) << added.error().message();
  auto own = ReadProcCgroup(child_);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->v1.at("memory"), name_);
  EXPECT_EQ(own->v1.at("freezer"), name_);
  EXPECT_THAT(*manager_->Pids(), Contains(child_));

  ASSERT_TRUE(manager_->Freeze());
  EXPECT_EQ(Read(Dir("freezer") + "/freezer.state"), "FROZEN");
  EXPECT_EQ(*manager_->GetFreezerState(), FreezerState::kFrozen);
  ASSERT_TRUE(manager_->Thaw());
  EXPECT_EQ(Read(Dir("freezer") + "/freezer.state"), "THAWED");

  CgroupStats st = *manager_->Stats();
  EXPECT_EQ(st.pids_current, 1u);
  EXPECT_TRUE(st.memory_usage);
  EXPECT_TRUE(st.cpu_usage_ns);

  auto killed = manager_->KillAll(SIGKILL);
  ASSERT_TRUE(killed) << killed.error().message();
  int status = 0;
  ASSERT_EQ(::waitpid(child_, &status, 0), child_);
  child_ = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(manager_->Pids()->empty());
  // TearDown destroys and checks that no directory is left.
}

TEST_F(HostCgroups, DeviceRulesReachTheKernel) {
  if (!layout_.HasV1("devices")) GTEST_SKIP() << "needs the cgroup v1 \"devices\" hierarchy";
  auto m = OpenCgroupManager(layout_, name_, "unused");
  ASSERT_TRUE(m);
  manager_ = std::move(*m);
  oci::Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "c", 1, 5, "r"});
  auto created = CreateWithResources(*manager_, r);
  ASSERT_TRUE(created) << created.error().message();
  std::vector<std::string> list = Split(Read(Dir("devices") + "/devices.list"), '\n');
  std::sort(list.begin(), list.end());
  EXPECT_EQ(list, (std::vector<std::string>{"c 1:3 rwm", "c 1:5 r"}));
}

TEST_F(HostCgroups, HugetlbOnTheUnifiedMount) {
  if (!layout_.HasUnifiedController("hugetlb") || layout_.HasV1("hugetlb"))
    GTEST_SKIP() << "needs hugetlb on the unified mount only ("
                 << (layout_.HasUnified() ? layout_.unified.mount_point : "no unified mount")
                 << "/cgroup.controllers does not list it)";
  if (std::find(layout_.hugepage_sizes.begin(), layout_.hugepage_sizes.end(), "2MB") == layout_.hugepage_sizes.end())
    GTEST_SKIP() << "needs 2MB huge pages (/sys/kernel/mm/hugepages/hugepages-2048kB)";
  auto m = OpenCgroupManager(layout_, name_, "unused");
  ASSERT_TRUE(m);
  manager_ = std::move(*m);
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 4 * 2 * kMiB}};
  r.pids = oci::PidsResources{8};
  auto created = CreateWithResources(*manager_, r);
  ASSERT_TRUE(created) << created.error().message();
  const std::string& unified = manager_->Paths().unified;
  EXPECT_EQ(Read(unified + "/hugetlb.2MB.max"), std::to_string(8 * kMiB));
  EXPECT_EQ(Read(Dir("pids") + "/pids.max"), "8");
  child_ = ForkSleeper();
  ASSERT_TRUE(manager_->AddProcess(child_));
  EXPECT_EQ(*ReadProcCgroup(child_)->unified, name_);
}

TEST_F(HostCgroups, BadInputCreatesNothing) {
  auto dotdot = OpenCgroupManager(layout_, "/moor-test/../../escape", "x");
  ASSERT_FALSE(dotdot);
  EXPECT_THAT(dotdot.error().message(), HasSubstr("\"..\" is not allowed"));

  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]})", "page size \"3MB\" is not supported"},
      {R"({"unified": {"memory.high": "1"}})", "needs cgroup v2"},
      {R"({"cpu": {"shares": 1}})", "cpu.shares: 1 is out of range"},
      {R"({"cpu": {"cpus": "99999"}})", "cpuset.cpus"},  // refused by the kernel after Create
  };
  for (const Case& c : cases) {
    auto r = oci::ParseResources(c.json);
    ASSERT_TRUE(r) << c.json;
    auto m = OpenCgroupManager(layout_, name_, "x");
    ASSERT_TRUE(m);
    CgroupPaths paths = (*m)->Paths();
    auto created = CreateWithResources(**m, *r);
    ASSERT_FALSE(created) << c.json;
    EXPECT_THAT(created.error().message(), HasSubstr(c.message)) << c.json;
    for (const std::string& dir : paths.AllDirs()) EXPECT_FALSE(PathExists(dir)) << dir << " after " << c.json;
  }
}

}  // namespace
}  // namespace moor::runtime::cgroups
