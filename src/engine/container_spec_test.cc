#include "engine/container_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

#include "oci/spec_serialize.h"

namespace moor::engine {
namespace {

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

image::ImageConfig Image(Strings cmd = {"sh"}) {
  image::ImageConfig img;
  img.config.cmd = std::move(cmd);
  img.config.env = {"PATH=/bin", "LANG=C"};
  return img;
}

SpecContext Context() {
  SpecContext ctx;
  ctx.id = "0123456789abcdef0123";
  ctx.netns_path = "/run/moor/netns/0123";
  ctx.cgroup_path = "/moor/0123";
  return ctx;
}

ContainerConfig Config() {
  ContainerConfig c;
  c.image = "busybox";
  return c;
}

oci::Spec MustBuild(const ContainerConfig& c, const SpecContext& ctx = Context(),
                    const image::ImageConfig& img = Image()) {
  auto s = BuildContainerSpec(c, img, ctx);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message());
  return s ? *s : oci::Spec{};
}

const oci::Mount* FindMount(const oci::Spec& s, const std::string& dest) {
  const oci::Mount* found = nullptr;
  for (const auto& m : s.mounts) {
    if (m.destination != dest) continue;
    EXPECT_EQ(found, nullptr) << dest << " is mounted twice";
    found = &m;
  }
  return found;
}

bool Has(const Strings& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

size_t IndexOf(const oci::Spec& s, const std::string& dest) {
  for (size_t i = 0; i < s.mounts.size(); ++i)
    if (s.mounts[i].destination == dest) return i;
  return SIZE_MAX;
}

TEST(BuildContainerSpec, ProcessHostnameNetnsAndCgroup) {
  ContainerConfig c = Config();
  c.env = {"A=1"};
  c.working_dir = "/srv";
  c.user = "1000:100";
  oci::Spec s = MustBuild(c);
  ASSERT_TRUE(s.process.has_value());
  EXPECT_EQ(s.process->args, Strings{"sh"});
  EXPECT_TRUE(Has(s.process->env, "A=1"));
  EXPECT_TRUE(Has(s.process->env, "LANG=C"));
  EXPECT_EQ(s.process->cwd, "/srv");
  EXPECT_EQ(s.process->user.uid, 1000u);
  EXPECT_EQ(s.process->user.gid, 100u);
  EXPECT_FALSE(s.process->terminal);
  EXPECT_EQ(s.hostname, "0123456789ab");
  EXPECT_FALSE(s.root.readonly);
  ASSERT_NE(s.FindNamespace("network"), nullptr);
  EXPECT_EQ(s.FindNamespace("network")->path, "/run/moor/netns/0123");
  ASSERT_NE(s.FindNamespace("uts"), nullptr);
  EXPECT_EQ(s.linux.cgroups_path, "/moor/0123");

  // The result serializes to a config.json that parses back to the same spec.
  auto back = oci::ParseSpec(oci::SpecToJson(s));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(oci::SpecToJson(*back), oci::SpecToJson(s));
}

TEST(BuildContainerSpec, TtyReadOnlyHostnameAndClearedEntrypoint) {
  ContainerConfig c = Config();
  c.tty = true;
  c.read_only_rootfs = true;
  c.hostname = "web";
  c.entrypoint = Strings{};
  c.cmd = {"echo", "hi"};
  image::ImageConfig img = Image();
  img.config.entrypoint = Strings{"/entry"};
  oci::Spec s = MustBuild(c, Context(), img);
  EXPECT_TRUE(s.process->terminal);
  EXPECT_TRUE(Has(s.process->env, "TERM=xterm"));
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "web");
  EXPECT_EQ(s.process->args, (Strings{"echo", "hi"}));
}

TEST(BuildContainerSpec, NetworkModes) {
  ContainerConfig host = Config();
  host.network_mode = "host";
  SpecContext ctx = Context();
  ctx.netns_path.clear();
  oci::Spec h = MustBuild(host, ctx);
  EXPECT_EQ(h.FindNamespace("network"), nullptr);
  EXPECT_EQ(h.FindNamespace("uts"), nullptr);
  EXPECT_TRUE(h.hostname.empty());
  ASSERT_NE(FindMount(h, "/etc/hosts"), nullptr);
  EXPECT_EQ(FindMount(h, "/etc/hosts")->source, "/etc/hosts");  // the host's

  ContainerConfig none = Config();
  none.network_mode = "none";
  oci::Spec n = MustBuild(none, ctx);
  ASSERT_NE(n.FindNamespace("network"), nullptr);
  EXPECT_EQ(n.FindNamespace("network")->path, "");

  ContainerConfig shared = Config();
  shared.network_mode = "container:db";
  SpecContext other = Context();
  other.netns_path = "/proc/42/ns/net";
  EXPECT_EQ(MustBuild(shared, other).FindNamespace("network")->path, "/proc/42/ns/net");

  // A bridge container without the namespace the engine should have made.
  auto missing = BuildContainerSpec(Config(), Image(), ctx);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("network namespace"), std::string::npos);
}

TEST(BuildContainerSpec, UserMounts) {
  ContainerConfig c = Config();
  c.mounts = {Bind("/h/a", "/a/b", true, "rslave"), Bind("/h", "/a"), Volume("data", "/data"),
              Tmpfs("/run", 64 << 20), Tmpfs("/dev/shm", 0, 0700, true, true)};
  SpecContext ctx = Context();
  ctx.volume_paths = {"", "", "/var/lib/moor/volumes/data/_data", "", ""};
  oci::Spec s = MustBuild(c, ctx);

  const oci::Mount* ab = FindMount(s, "/a/b");
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->type, "bind");
  EXPECT_EQ(ab->source, "/h/a");
  EXPECT_EQ(ab->options, (Strings{"rbind", "ro", "rslave"}));
  EXPECT_EQ(FindMount(s, "/a")->options, (Strings{"rbind", "rw", "rprivate"}));
  // Parents first, whatever the order given.
  EXPECT_LT(IndexOf(s, "/a"), IndexOf(s, "/a/b"));

  const oci::Mount* data = FindMount(s, "/data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->type, "bind");
  EXPECT_EQ(data->source, "/var/lib/moor/volumes/data/_data");
  EXPECT_EQ(data->options, (Strings{"rbind", "rw", "rprivate"}));

  const oci::Mount* run = FindMount(s, "/run");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->type, "tmpfs");
  EXPECT_EQ(run->options, (Strings{"nosuid", "nodev", "rw", "mode=1777", "size=67108864"}));

  // The user's /dev/shm replaces the default one, after /dev.
  const oci::Mount* shm = FindMount(s, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->options, (Strings{"nosuid", "nodev", "noexec", "ro", "mode=700"}));
  EXPECT_LT(IndexOf(s, "/dev"), IndexOf(s, "/dev/shm"));
}

TEST(BuildContainerSpec, VolumeWithoutHostPathIsAnError) {
  ContainerConfig c = Config();
  c.mounts = {Volume("data", "/data")};
  auto s = BuildContainerSpec(c, Image(), Context());
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("/data"), std::string::npos);
}

TEST(BuildContainerSpec, GeneratedEtcFilesAreReadOnlyBinds) {
  SpecContext ctx = Context();
  ctx.hosts_file = "/var/lib/moor/containers/x/hosts";
  ctx.resolv_file = "/var/lib/moor/containers/x/resolv.conf";
  ctx.hostname_file = "/var/lib/moor/containers/x/hostname";
  oci::Spec s = MustBuild(Config(), ctx);
  for (const auto& [dest, src] : {std::pair{"/etc/hosts", ctx.hosts_file},
                                  {"/etc/resolv.conf", ctx.resolv_file},
                                  {"/etc/hostname", ctx.hostname_file}}) {
    const oci::Mount* m = FindMount(s, dest);
    ASSERT_NE(m, nullptr) << dest;
    EXPECT_EQ(m->type, "bind");
    EXPECT_EQ(m->source, src);
    EXPECT_TRUE(Has(m->options, "ro")) << dest;
  }

  // A user's own mount there wins.
  ContainerConfig c = Config();
  c.mounts = {Bind("/my/hosts", "/etc/hosts")};
  EXPECT_EQ(FindMount(MustBuild(c, ctx), "/etc/hosts")->source, "/my/hosts");

  // With host networking, generated files replace the host's.
  ContainerConfig host = Config();
  host.network_mode = "host";
  ctx.netns_path.clear();
  EXPECT_EQ(FindMount(MustBuild(host, ctx), "/etc/hosts")->source, ctx.hosts_file);
}

TEST(BuildContainerSpec, InitRunsTheCommandBehindMoorInit) {
  ContainerConfig c = Config();
  c.init = true;
  c.cmd = {"sleep", "-x", "5"};
  SpecContext ctx = Context();
  ctx.init_path = "/usr/libexec/moor/moor-init";
  oci::Spec s = MustBuild(c, ctx);
  EXPECT_EQ(s.process->args, (Strings{"/sbin/moor-init", "--", "sleep", "-x", "5"}));
  const oci::Mount* m = FindMount(s, "/sbin/moor-init");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->source, "/usr/libexec/moor/moor-init");
  EXPECT_TRUE(Has(m->options, "ro"));

  ctx.init_path.clear();
  auto missing = BuildContainerSpec(c, Image(), ctx);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("moor-init"), std::string::npos);
}

TEST(BuildContainerSpec, Resources) {
  ContainerConfig c = Config();
  c.resources = {.memory = 64 << 20,
                 .memory_swap = 0,
                 .nano_cpus = 1'500'000'000,
                 .cpu_shares = 512,
                 .cpuset_cpus = "0-1",
                 .pids_limit = 100,
                 .blkio_weight = 500,
                 .oom_kill_disable = true};
  oci::Spec s = MustBuild(c);
  ASSERT_TRUE(s.linux.resources.has_value());
  const oci::Resources& r = *s.linux.resources;
  ASSERT_TRUE(r.memory.has_value());
  EXPECT_EQ(r.memory->limit, 64 << 20);
  EXPECT_EQ(r.memory->swap, 128 << 20);  // Docker: MemorySwap 0 = twice the memory
  EXPECT_EQ(r.memory->disable_oom_killer, true);
  ASSERT_TRUE(r.cpu.has_value());
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->quota, 150000);
  EXPECT_EQ(r.cpu->shares, 512u);
  EXPECT_EQ(r.cpu->cpus, "0-1");
  ASSERT_TRUE(r.pids.has_value());
  EXPECT_EQ(r.pids->limit, 100);
  ASSERT_TRUE(r.block_io.has_value());
  EXPECT_EQ(r.block_io->weight, 500);
  EXPECT_FALSE(r.devices.empty());  // the default device rules stay

  c.resources.memory_swap = -1;
  EXPECT_EQ(MustBuild(c).linux.resources->memory->swap, -1);
  c.resources.memory_swap = 100 << 20;
  EXPECT_EQ(MustBuild(c).linux.resources->memory->swap, 100 << 20);

  oci::Spec plain = MustBuild(Config());
  ASSERT_TRUE(plain.linux.resources.has_value());
  EXPECT_FALSE(plain.linux.resources->memory.has_value());
  EXPECT_FALSE(plain.linux.resources->cpu.has_value());
  EXPECT_FALSE(plain.linux.resources->pids.has_value());
  EXPECT_FALSE(plain.linux.resources->block_io.has_value());
}

TEST(StopSignal, ConfigThenImageThenSigterm) {
  ContainerConfig c = Config();
  image::ImageConfig img = Image();
  EXPECT_EQ(StopSignal(c, img), SIGTERM);
  img.config.stop_signal = "SIGUSR1";
  EXPECT_EQ(StopSignal(c, img), SIGUSR1);
  c.stop_signal = "QUIT";
  EXPECT_EQ(StopSignal(c, img), SIGQUIT);
  c.stop_signal = "9";
  EXPECT_EQ(StopSignal(c, img), SIGKILL);

  c.stop_signal = "SIGBOGUS";
  auto bad = StopSignal(c, img);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("StopSignal"), std::string::npos);
  c.stop_signal.clear();
  img.config.stop_signal = "NOPE";
  ASSERT_FALSE(StopSignal(c, img).has_value());
  EXPECT_NE(StopSignal(c, img).error().message().find("STOPSIGNAL"), std::string::npos);
}

}  // namespace
}  // namespace moor::engine
