// The managers against fixture cgroup trees: temp directories of plain files
// that stand in for cgroupfs. A FakeKernel fills each directory Create() makes
// with the control files the kernel would show, so v2 is tested on this v1
// host and nothing here needs root.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/manager.h"
#include "runtime/cgroups/split.h"

namespace moor::runtime::cgroups {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

constexpr const char* kUnlimited = "9223372036854771712";

class FakeKernel {
 public:
  FakeKernel() {
    // tmpfs when there is one: thousands of small files on a slow disk add up.
    std::string tmpl = std::string(PathExists("/dev/shm") ? "/dev/shm" : "/tmp") + "/moor-cgroups-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << tmpl;
    root_ = made ? made : "/nonexistent";
  }
  ~FakeKernel() { (void)RemoveAll(root_); }

  const std::string& root() const { return root_; }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }

  void Put(const std::string& rel, const std::string& content) {
    std::ofstream(Path(rel), std::ios::trunc) << content;
  }
  std::string Get(const std::string& rel) const {
    auto r = ReadFile(Path(rel));
    return r ? std::string(Trim(*r)) : "<missing: " + rel + ">";
  }
  bool Exists(const std::string& rel) const { return PathExists(Path(rel)); }

  // A mount: directory `name` under root with these files in every cgroup
  // (and the root's own values in `root_files`).
  void Mount(const std::string& name, std::map<std::string, std::string> files,
             std::map<std::string, std::string> root_files = {}) {
    (void)MkdirAll(Path(name));
    files_[name] = files;
    for (const auto& [f, v] : files) Put(name + "/" + f, v);
    for (const auto& [f, v] : root_files) Put(name + "/" + f, v);
  }

  // What the kernel does on mkdir in a cgroup file system.
  void Populate(const std::string& dir) {
    for (const auto& [mount, files] : files_) {
      if (!StartsWith(dir, Path(mount) + "/")) continue;
      for (const auto& [f, v] : files) Put(dir.substr(root_.size() + 1) + "/" + f, v);
    }
  }

  ManagerOptions Options() {
    ManagerOptions o;
    o.on_directory_created = [this](const std::string& dir) { Populate(dir); };
    o.freeze_timeout = 100ms;
    o.kill_timeout = 200ms;
    o.remove_timeout = 100ms;
    return o;
  }

 private:
  std::string root_;
  std::map<std::string, std::map<std::string, std::string>> files_;
};

// --- v1 ---

class V1Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::map<std::string, std::string> base = {{"cgroup.procs", ""}, {"tasks", ""}};
    auto with = [&](std::map<std::string, std::string> extra) {
      extra.insert(base.begin(), base.end());
      return extra;
    };
    k.Mount("cpu,cpuacct", with({{"cpu.shares", "1024"},
                                 {"cpu.cfs_period_us", "100000"},
                                 {"cpu.cfs_quota_us", "-1"},
                                 {"cpu.rt_period_us", "1000000"},
                                 {"cpu.rt_runtime_us", "0"},
                                 {"cpu.idle", "0"},
                                 {"cpuacct.usage", "12345"}}));
    k.Mount("cpuset", with({{"cpuset.cpus", ""}, {"cpuset.mems", ""}}), {{"cpuset.cpus", "0-3"}, {"cpuset.mems", "0"}});
    k.Mount("memory",
            with({{"memory.limit_in_bytes", kUnlimited},
                  {"memory.memsw.limit_in_bytes", kUnlimited},
                  {"memory.soft_limit_in_bytes", kUnlimited},
                  {"memory.swappiness", "60"},
                  {"memory.oom_control", "oom_kill_disable 0"},
                  {"memory.usage_in_bytes", "4096"}}));
    k.Mount("devices", with({{"devices.allow", ""}, {"devices.deny", ""}}));
    k.Mount("freezer", with({{"freezer.state", "THAWED"}}));
    k.Mount("blkio", with({{"blkio.bfq.weight", "100"},
                           {"blkio.bfq.weight_device", ""},
                           {"blkio.throttle.read_bps_device", ""},
                           {"blkio.throttle.write_bps_device", ""},
                           {"blkio.throttle.read_iops_device", ""},
                           {"blkio.throttle.write_iops_device", ""}}));
    k.Mount("pids", with({{"pids.max", "max"}, {"pids.current", "0"}}));
    k.Mount("hugetlb", with({{"hugetlb.2MB.limit_in_bytes", kUnlimited}, {"hugetlb.1GB.limit_in_bytes", kUnlimited}}));
    k.Mount("systemd", base);
    layout.mode = Mode::kV1;
    for (const char* c : {"cpu", "cpuacct"}) layout.v1[c] = {k.Path("cpu,cpuacct"), "/"};
    for (const char* c : {"cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb"})
      layout.v1[c] = {k.Path(c), "/"};
    layout.v1["name=systemd"] = {k.Path("systemd"), "/"};
    layout.hugepage_sizes = {"2MB", "1GB"};
  }

  std::unique_ptr<CgroupManager> Open(const std::string& path = "/moor/c1") {
    auto m = OpenCgroupManager(layout, path, "c1", k.Options());
    EXPECT_TRUE(m) << m.error().message();
    return m ? std::move(*m) : nullptr;
  }

  FakeKernel k;
  Layout layout;
};

const char* const kV1Mounts[] = {"cpu,cpuacct", "cpuset", "memory", "devices", "freezer",
                                 "blkio",       "pids",   "hugetlb", "systemd"};

TEST_F(V1Fixture, CreateMakesEveryHierarchyAndFillsCpuset) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  for (const char* mount : kV1Mounts) EXPECT_TRUE(k.Exists(std::string(mount) + "/moor/c1")) << mount;
  EXPECT_EQ(k.Get("cpuset/moor/cpuset.cpus"), "0-3");
  EXPECT_EQ(k.Get("cpuset/moor/cpuset.mems"), "0");
  EXPECT_EQ(k.Get("cpuset/moor/c1/cpuset.cpus"), "0-3");
  EXPECT_EQ(k.Get("cpuset/moor/c1/cpuset.mems"), "0");
  CgroupPaths p = m->Paths();
  EXPECT_EQ(p.v1.at("cpu"), k.Path("cpu,cpuacct/moor/c1"));
  EXPECT_EQ(p.v1.at("cpuacct"), k.Path("cpu,cpuacct/moor/c1"));
  EXPECT_EQ(p.created_ancestors.size(), 9u);  // "/moor" in each hierarchy
  EXPECT_TRUE(p.unified.empty());
  EXPECT_TRUE(m->Create());  // idempotent
  EXPECT_EQ(m->Paths().created_ancestors.size(), 9u);
}

TEST_F(V1Fixture, CreateKeepsAParentsOwnCpuset) {
  ASSERT_TRUE(MkdirAll(k.Path("cpuset/moor")));
  k.Put("cpuset/moor/cpuset.cpus", "2");
  k.Put("cpuset/moor/cpuset.mems", "0");
  auto m = Open();
  ASSERT_TRUE(m->Create());
  EXPECT_EQ(k.Get("cpuset/moor/c1/cpuset.cpus"), "2");
  EXPECT_EQ(k.Get("cpuset/moor/cpuset.cpus"), "2");
}

TEST_F(V1Fixture, ApplyWritesEveryLimit) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  auto r = oci::ParseResources(R"({
    "memory": {"limit": 104857600, "swap": 209715200, "reservation": 52428800, "swappiness": 10,
               "disableOOMKiller": true},
    "cpu": {"shares": 512, "quota": 50000, "period": 200000, "cpus": "1", "mems": "0", "idle": 1},
    "pids": {"limit": 20},
    "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
  })");
  ASSERT_TRUE(r) << r.error().message();
  auto applied = m->Apply(*r);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(k.Get("memory/moor/c1/memory.limit_in_bytes"), "104857600");
  EXPECT_EQ(k.Get("memory/moor/c1/memory.memsw.limit_in_bytes"), "209715200");
  EXPECT_EQ(k.Get("memory/moor/c1/memory.soft_limit_in_bytes"), "52428800");
  EXPECT_EQ(k.Get("memory/moor/c1/memory.swappiness"), "10");
  EXPECT_EQ(k.Get("memory/moor/c1/memory.oom_control"), "1");
  EXPECT_EQ(k.Get("cpu,cpuacct/moor/c1/cpu.shares"), "512");
  EXPECT_EQ(k.Get("cpu,cpuacct/moor/c1/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(k.Get("cpu,cpuacct/moor/c1/cpu.cfs_period_us"), "200000");
  EXPECT_EQ(k.Get("cpu,cpuacct/moor/c1/cpu.idle"), "1");
  EXPECT_EQ(k.Get("cpuset/moor/c1/cpuset.cpus"), "1");
  EXPECT_EQ(k.Get("pids/moor/c1/pids.max"), "20");
  EXPECT_EQ(k.Get("blkio/moor/c1/blkio.bfq.weight"), "300");  // no blkio.weight here: BFQ files
  EXPECT_EQ(k.Get("blkio/moor/c1/blkio.throttle.read_bps_device"), "8:0 1048576");
  EXPECT_EQ(k.Get("hugetlb/moor/c1/hugetlb.2MB.limit_in_bytes"), "4194304");
  EXPECT_EQ(k.Get("devices/moor/c1/devices.deny"), "a *:* rwm");
  EXPECT_EQ(k.Get("devices/moor/c1/devices.allow"), "c 1:3 rwm");
  EXPECT_FALSE(k.Exists("blkio/moor/c1/blkio.weight"));
  EXPECT_TRUE(m->SupportsDeviceRules());
}

TEST_F(V1Fixture, UpdateChangesOnlyWhatIsGiven) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  oci::Resources first;
  first.pids = oci::PidsResources{5};
  first.memory.emplace();
  first.memory->limit = 1 << 20;
  ASSERT_TRUE(m->Apply(first));
  oci::Resources update;
  update.pids = oci::PidsResources{-1};
  ASSERT_TRUE(m->Apply(update));
  EXPECT_EQ(k.Get("pids/moor/c1/pids.max"), "max");
  EXPECT_EQ(k.Get("memory/moor/c1/memory.limit_in_bytes"), "1048576");
  EXPECT_EQ(k.Get("cpu,cpuacct/moor/c1/cpu.shares"), "1024");
}

TEST_F(V1Fixture, BlkioWeightFileWhenCfqIsThere) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  k.Put("blkio/moor/c1/blkio.weight", "500");
  oci::Resources r;
  r.block_io.emplace();
  r.block_io->weight = 700;
  ASSERT_TRUE(m->Apply(r));
  EXPECT_EQ(k.Get("blkio/moor/c1/blkio.weight"), "700");
  EXPECT_EQ(k.Get("blkio/moor/c1/blkio.bfq.weight"), "100");
}

TEST_F(V1Fixture, BadInputChangesNothing) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  oci::Resources r;
  r.pids = oci::PidsResources{7};
  r.unified["memory.high"] = "1G";
  auto applied = m->Apply(r);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message(), HasSubstr("needs cgroup v2"));
  EXPECT_EQ(k.Get("pids/moor/c1/pids.max"), "max");
}

TEST_F(V1Fixture, CreateWithBadResourcesCreatesNothing) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]})", "page size \"3MB\" is not supported"},
      {R"({"unified": {"memory.high": "1"}})", "needs cgroup v2"},
      {R"({"cpu": {"shares": 1}})", "cpu.shares: 1 is out of range"},
      {R"({"memory": {"limit": 100, "swap": 50}})", "is below memory.limit"},
  };
  for (const Case& c : cases) {
    auto r = oci::ParseResources(c.json);
    ASSERT_TRUE(r) << c.json;
    auto m = Open();
    auto created = CreateWithResources(*m, *r);
    ASSERT_FALSE(created) << c.json;
    EXPECT_THAT(created.error().message(), HasSubstr(c.message));
    for (const char* mount : kV1Mounts) EXPECT_FALSE(k.Exists(std::string(mount) + "/moor")) << mount << " " << c.json;
  }
}

TEST_F(V1Fixture, ApplyFailureInCreateWithResourcesRemovesEverything) {
  auto m = Open();
  // The kernel-side refusal: a file the fake kernel does not provide.
  oci::Resources r;
  r.cpu.emplace();
  r.cpu->realtime_runtime = 1000;
  k.Mount("cpu,cpuacct", {{"cgroup.procs", ""}});  // no cpu.rt_* files in new cgroups
  auto created = CreateWithResources(*m, r);
  ASSERT_FALSE(created);
  EXPECT_THAT(created.error().message(), HasSubstr("cpu.rt_runtime_us"));
  for (const char* mount : kV1Mounts) EXPECT_FALSE(k.Exists(std::string(mount) + "/moor")) << mount;
}

TEST_F(V1Fixture, AddProcessFreezeThawPids) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  ASSERT_TRUE(m->AddProcess(4242));
  for (const char* mount : kV1Mounts) EXPECT_EQ(k.Get(std::string(mount) + "/moor/c1/cgroup.procs"), "4242") << mount;
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kThawed);
  ASSERT_TRUE(m->Freeze());
  EXPECT_EQ(k.Get("freezer/moor/c1/freezer.state"), "FROZEN");
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kFrozen);
  ASSERT_TRUE(m->Thaw());
  EXPECT_EQ(k.Get("freezer/moor/c1/freezer.state"), "THAWED");
  k.Put("freezer/moor/c1/freezer.state", "FREEZING");
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kFreezing);

  // Pids covers sub-cgroups.
  ASSERT_TRUE(MkdirAll(k.Path("freezer/moor/c1/sub")));
  k.Put("freezer/moor/c1/cgroup.procs", "30\n10\n");
  k.Put("freezer/moor/c1/sub/cgroup.procs", "20\n10\n");
  EXPECT_THAT(*m->Pids(), ElementsAre(10, 20, 30));
}

TEST_F(V1Fixture, KillAllSignalsListedProcesses) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  k.Put("freezer/moor/c1/cgroup.procs", std::to_string(child) + "\n");
  ASSERT_TRUE(m->KillAll(SIGTERM));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(k.Get("freezer/moor/c1/freezer.state"), "THAWED");  // frozen around the signal, thawed after

  // SIGKILL waits for the cgroup to empty; a pid that no longer exists counts as gone.
  ASSERT_TRUE(m->KillAll(SIGKILL));
}

TEST_F(V1Fixture, KillAllGivesUpAtTheDeadline) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  // Unreaped, the killed child stays a zombie, which still exists for kill():
  // the fake cgroup never empties.
  k.Put("freezer/moor/c1/cgroup.procs", std::to_string(child) + "\n");
  auto killed = m->KillAll(SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_FALSE(killed);
  EXPECT_THAT(killed.error().message(), HasSubstr("1 processes of the cgroup survived SIGKILL for 200 ms"));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(V1Fixture, Stats) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  k.Put("pids/moor/c1/pids.current", "3");
  CgroupStats s = *m->Stats();
  EXPECT_EQ(s.memory_usage, 4096u);
  EXPECT_FALSE(s.memory_limit);  // unlimited
  EXPECT_EQ(s.cpu_usage_ns, 12345u);
  EXPECT_EQ(s.pids_current, 3u);
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 8192;
  ASSERT_TRUE(m->Apply(r));
  EXPECT_EQ(m->Stats()->memory_limit, 8192u);
}

TEST_F(V1Fixture, DestroyRemovesEverythingFromRecordedPaths) {
  CgroupPaths recorded;
  {
    auto m = Open("/moor/deep/c1");
    ASSERT_TRUE(m->Create());
    ASSERT_TRUE(MkdirAll(k.Path("memory/moor/deep/c1/child/grandchild")));
    recorded = m->Paths();
  }
  // Another process: rebuild from what the state file recorded.
  auto again = NewCgroupManager(layout, recorded, k.Options());
  auto destroyed = again->Destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message();
  for (const char* mount : kV1Mounts) {
    EXPECT_FALSE(k.Exists(std::string(mount) + "/moor")) << mount;
    EXPECT_TRUE(k.Exists(mount)) << mount;
  }
  EXPECT_TRUE(again->Destroy());  // missing is success
}

TEST_F(V1Fixture, DestroyKeepsSharedAncestors) {
  auto a = Open("/moor/a");
  auto b = Open("/moor/b");
  ASSERT_TRUE(a->Create());
  ASSERT_TRUE(b->Create());
  ASSERT_TRUE(a->Destroy());
  EXPECT_FALSE(k.Exists("memory/moor/a"));
  EXPECT_TRUE(k.Exists("memory/moor/b"));
  ASSERT_TRUE(b->Destroy());
  // b did not create /moor, a did: a second Destroy of a now removes it.
  EXPECT_TRUE(k.Exists("memory/moor"));
  ASSERT_TRUE(a->Destroy());
  EXPECT_FALSE(k.Exists("memory/moor"));
}

TEST_F(V1Fixture, RelativePathIsBelowOwnCgroup) {
  auto self = ReadProcCgroup();
  ASSERT_TRUE(self);
  // The fixture's mounts are not this process's hierarchies, but the own
  // paths from /proc/self/cgroup are joined below them all the same.
  Layout l = layout;
  for (auto it = l.v1.begin(); it != l.v1.end();)
    it = self->v1.count(it->first) ? std::next(it) : l.v1.erase(it);
  if (l.v1.empty()) GTEST_SKIP() << "this process has no v1 cgroups";
  auto m = OpenCgroupManager(l, "rel/c1", "c1", k.Options());
  ASSERT_TRUE(m) << m.error().message();
  for (const auto& [controller, dir] : (*m)->Paths().v1) {
    std::string own = self->v1.at(controller);
    EXPECT_EQ(dir, l.v1.at(controller).mount_point + (own == "/" ? "" : own) + "/rel/c1") << controller;
  }
}

TEST_F(V1Fixture, FactoryRejectsBadPathsBeforeTouchingAnything) {
  auto m = OpenCgroupManager(layout, "/moor/../../etc", "c1", k.Options());
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message(), HasSubstr("\"..\" is not allowed"));
  auto sd = OpenCgroupManager(layout, "system.slice:docker:abc", "abc", k.Options());
  ASSERT_TRUE(sd);
  EXPECT_EQ((*sd)->Paths().v1.at("memory"), k.Path("memory/system.slice/docker-abc.scope"));
}

// --- v2 ---

class V2Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    k.Mount("unified",
            {{"cgroup.controllers", kControllers},
             {"cgroup.subtree_control", ""},
             {"cgroup.procs", ""},
             {"cgroup.freeze", "0"},
             {"cgroup.events", "populated 0\nfrozen 0\n"},
             {"memory.max", "max"},
             {"memory.swap.max", "max"},
             {"memory.low", "0"},
             {"memory.high", "max"},
             {"memory.current", "8192"},
             {"cpu.max", "max 100000"},
             {"cpu.weight", "100"},
             {"cpu.idle", "0"},
             {"cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"},
             {"cpuset.cpus", ""},
             {"cpuset.mems", ""},
             {"io.weight", "default 100"},
             {"io.max", ""},
             {"pids.max", "max"},
             {"pids.current", "1"},
             {"hugetlb.2MB.max", "max"}},
            {{"cgroup.subtree_control", ""}});
    layout.mode = Mode::kV2;
    layout.unified = {k.Path("unified"), "/"};
    layout.unified_controllers = Split(kControllers, ' ');
    layout.hugepage_sizes = {"2MB"};
  }

  std::unique_ptr<CgroupManager> Open(const std::string& path = "/a/b") {
    auto m = OpenCgroupManager(layout, path, "c1", k.Options());
    EXPECT_TRUE(m) << m.error().message();
    return m ? std::move(*m) : nullptr;
  }

  static constexpr const char* kControllers = "cpuset cpu io memory hugetlb pids";
  FakeKernel k;
  Layout layout;
};

TEST_F(V2Fixture, CreateEnablesControllersDownToTheParent) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  EXPECT_TRUE(k.Exists("unified/a/b"));
  EXPECT_EQ(k.Get("unified/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(k.Get("unified/a/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(k.Get("unified/a/b/cgroup.subtree_control"), "");
  EXPECT_FALSE(m->SupportsDeviceRules());
  EXPECT_TRUE(m->Paths().v1.empty());
  EXPECT_EQ(m->Paths().unified, k.Path("unified/a/b"));
  EXPECT_THAT(m->Paths().created_ancestors, ElementsAre(k.Path("unified/a")));
}

TEST_F(V2Fixture, CreateWritesOnlyMissingControllers) {
  k.Put("unified/cgroup.subtree_control", "cpuset cpu io memory pids");
  auto m = Open("/x");
  ASSERT_TRUE(m->Create());
  EXPECT_EQ(k.Get("unified/cgroup.subtree_control"), "+hugetlb");
}

TEST_F(V2Fixture, ApplyWritesEveryLimit) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  auto r = oci::ParseResources(R"({
    "memory": {"limit": 104857600, "swap": 314572800, "reservation": 1048576},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
    "pids": {"limit": 0},
    "blockIO": {"weight": 100, "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 4096}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
    "devices": [{"allow": false, "access": "rwm"}],
    "unified": {"memory.high": "50000000"}
  })");
  ASSERT_TRUE(r) << r.error().message();
  auto applied = m->Apply(*r);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(k.Get("unified/a/b/memory.max"), "104857600");
  EXPECT_EQ(k.Get("unified/a/b/memory.swap.max"), "209715200");
  EXPECT_EQ(k.Get("unified/a/b/memory.low"), "1048576");
  EXPECT_EQ(k.Get("unified/a/b/memory.high"), "50000000");
  EXPECT_EQ(k.Get("unified/a/b/cpu.weight"), "39");
  EXPECT_EQ(k.Get("unified/a/b/cpu.max"), "50000 100000");
  EXPECT_EQ(k.Get("unified/a/b/cpuset.cpus"), "0");
  EXPECT_EQ(k.Get("unified/a/b/pids.max"), "max");
  EXPECT_EQ(k.Get("unified/a/b/io.weight"), "910");
  EXPECT_EQ(k.Get("unified/a/b/io.max"), "8:0 wbps=4096");
  EXPECT_EQ(k.Get("unified/a/b/hugetlb.2MB.max"), "2097152");
  EXPECT_FALSE(k.Exists("unified/a/b/devices.deny"));

  // Update: period only keeps the quota the cgroup has.
  oci::Resources update;
  update.cpu.emplace();
  update.cpu->period = 250000;
  ASSERT_TRUE(m->Apply(update));
  EXPECT_EQ(k.Get("unified/a/b/cpu.max"), "50000 250000");
  EXPECT_EQ(k.Get("unified/a/b/memory.max"), "104857600");
}

TEST_F(V2Fixture, ControllerMissingInTheCgroup) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  k.Put("unified/a/b/cgroup.controllers", "memory pids");
  oci::Resources r;
  r.pids = oci::PidsResources{3};
  EXPECT_TRUE(m->Apply(r));
  r.hugepage_limits = {{"2MB", 0}};
  auto applied = m->Apply(r);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().message(),
            "cgroup controller \"hugetlb\" is not available on this host; remove linux.resources.hugepageLimits");
}

TEST_F(V2Fixture, FreezeWaitsForTheKernel) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  // The fake kernel never reports frozen: Freeze times out and thaws again.
  auto frozen = m->Freeze();
  ASSERT_FALSE(frozen);
  EXPECT_THAT(frozen.error().message(), HasSubstr("did not become frozen within 100 ms"));
  EXPECT_EQ(k.Get("unified/a/b/cgroup.freeze"), "0");
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kThawed);

  k.Put("unified/a/b/cgroup.events", "populated 1\nfrozen 1\n");
  ASSERT_TRUE(m->Freeze());
  EXPECT_EQ(k.Get("unified/a/b/cgroup.freeze"), "1");
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kFrozen);
  k.Put("unified/a/b/cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kFreezing);
  ASSERT_TRUE(m->Thaw());
  EXPECT_EQ(k.Get("unified/a/b/cgroup.freeze"), "0");
  EXPECT_EQ(*m->GetFreezerState(), FreezerState::kThawed);
}

TEST_F(V2Fixture, KillAllUsesCgroupKill) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  k.Put("unified/a/b/cgroup.kill", "");
  ASSERT_TRUE(m->KillAll(SIGKILL));
  EXPECT_EQ(k.Get("unified/a/b/cgroup.kill"), "1");
}

TEST_F(V2Fixture, AddProcessPidsStatsDestroy) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  ASSERT_TRUE(m->AddProcess(77));
  EXPECT_EQ(k.Get("unified/a/b/cgroup.procs"), "77");
  EXPECT_THAT(*m->Pids(), ElementsAre(77));
  CgroupStats s = *m->Stats();
  EXPECT_EQ(s.memory_usage, 8192u);
  EXPECT_FALSE(s.memory_limit);
  EXPECT_EQ(s.cpu_usage_ns, 1500000u);
  EXPECT_EQ(s.pids_current, 1u);
  ASSERT_TRUE(m->Destroy());
  EXPECT_FALSE(k.Exists("unified/a"));
  EXPECT_TRUE(k.Exists("unified/cgroup.procs"));
}

// --- hybrid ---

class HybridFixture : public V1Fixture {
 protected:
  void SetUp() override {
    V1Fixture::SetUp();
    layout.v1.erase("hugetlb");
    k.Mount("unified", {{"cgroup.controllers", "hugetlb"},
                        {"cgroup.subtree_control", ""},
                        {"cgroup.procs", ""},
                        {"cgroup.freeze", "0"},
                        {"cgroup.events", "frozen 0\n"},
                        {"hugetlb.2MB.max", "max"},
                        {"hugetlb.1GB.max", "max"}});
    layout.mode = Mode::kHybrid;
    layout.unified = {k.Path("unified"), "/"};
    layout.unified_controllers = {"hugetlb"};
  }
};

const char* const kHybridMounts[] = {"cpu,cpuacct", "cpuset", "memory", "devices", "freezer",
                                     "blkio",       "pids",   "systemd", "unified"};

TEST_F(HybridFixture, RoutesEachControllerToItsHierarchy) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  for (const char* mount : kHybridMounts) EXPECT_TRUE(k.Exists(std::string(mount) + "/moor/c1")) << mount;
  EXPECT_FALSE(k.Exists("hugetlb/moor"));
  EXPECT_EQ(k.Get("unified/cgroup.subtree_control"), "+hugetlb");
  EXPECT_EQ(k.Get("unified/moor/cgroup.subtree_control"), "+hugetlb");

  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 1 << 20;
  r.hugepage_limits = {{"2MB", 4 << 20}};
  auto applied = m->Apply(r);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(k.Get("memory/moor/c1/memory.limit_in_bytes"), "1048576");
  EXPECT_EQ(k.Get("unified/moor/c1/hugetlb.2MB.max"), "4194304");

  r = {};
  r.unified["memory.high"] = "1";
  auto rejected = m->Apply(r);
  ASSERT_FALSE(rejected);
  EXPECT_THAT(rejected.error().message(), HasSubstr("\"memory.high\" needs cgroup v2"));
  r.unified = {{"hugetlb.1GB.max", "0"}};
  ASSERT_TRUE(m->Apply(r));
  EXPECT_EQ(k.Get("unified/moor/c1/hugetlb.1GB.max"), "0");

  ASSERT_TRUE(m->AddProcess(99));
  EXPECT_EQ(k.Get("unified/moor/c1/cgroup.procs"), "99");
  EXPECT_EQ(k.Get("memory/moor/c1/cgroup.procs"), "99");
  ASSERT_TRUE(m->Freeze());  // v1 freezer
  EXPECT_EQ(k.Get("freezer/moor/c1/freezer.state"), "FROZEN");
  EXPECT_EQ(k.Get("unified/moor/c1/cgroup.freeze"), "0");
  ASSERT_TRUE(m->Thaw());
  EXPECT_TRUE(m->SupportsDeviceRules());

  CgroupPaths p = m->Paths();
  EXPECT_EQ(p.unified, k.Path("unified/moor/c1"));
  EXPECT_EQ(p.v1.at("memory"), k.Path("memory/moor/c1"));
  EXPECT_EQ(p.created_ancestors.size(), 9u);

  auto again = NewCgroupManager(layout, p, k.Options());
  EXPECT_EQ(again->Paths().created_ancestors.size(), 9u);
  ASSERT_TRUE(again->Destroy());
  for (const char* mount : kHybridMounts) EXPECT_FALSE(k.Exists(std::string(mount) + "/moor")) << mount;
}

TEST_F(HybridFixture, HugetlbMissingEverywhere) {
  layout.unified_controllers.clear();
  auto m = Open();
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 0}};
  auto v = m->Validate(r);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(),
            "cgroup controller \"hugetlb\" is not available on this host; remove linux.resources.hugepageLimits");
  oci::Resources unused;
  unused.pids = oci::PidsResources{1};
  EXPECT_TRUE(m->Validate(unused));
}

}  // namespace
}  // namespace moor::runtime::cgroups
