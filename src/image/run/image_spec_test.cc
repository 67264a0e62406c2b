#include "image/run/image_spec.h"

#include <gtest/gtest.h>

#include "image/run/test_util.h"

namespace moor::image {
namespace {

using testing::Put;
using testing::TempDir;
using Args = std::vector<std::string>;

ImageConfig Image(std::optional<Args> entrypoint, std::optional<Args> cmd) {
  ImageConfig c;
  c.config.entrypoint = std::move(entrypoint);
  c.config.cmd = std::move(cmd);
  return c;
}

Args ArgsFor(const ImageConfig& img, const RunRequest& req) {
  auto a = ProcessArgs(img.config, req);
  return a ? *a : Args{"<error: " + a.error().message() + ">"};
}

TEST(ProcessArgs, DockerRules) {
  RunRequest none;
  RunRequest args;
  args.args = {"ls", "-l"};
  RunRequest ep;
  ep.entrypoint = Args{"/bin/ep"};
  RunRequest ep_args = args;
  ep_args.entrypoint = Args{"/bin/ep"};
  RunRequest ep_cleared;
  ep_cleared.entrypoint = Args{};
  ep_cleared.args = {"x"};

  ImageConfig cmd_only = Image(std::nullopt, Args{"sh"});
  EXPECT_EQ(ArgsFor(cmd_only, none), (Args{"sh"}));
  EXPECT_EQ(ArgsFor(cmd_only, args), (Args{"ls", "-l"}));
  EXPECT_EQ(ArgsFor(cmd_only, ep), (Args{"/bin/ep"}));  // --entrypoint drops the image Cmd

  ImageConfig both = Image(Args{"/init", "--"}, Args{"serve"});
  EXPECT_EQ(ArgsFor(both, none), (Args{"/init", "--", "serve"}));
  EXPECT_EQ(ArgsFor(both, args), (Args{"/init", "--", "ls", "-l"}));
  EXPECT_EQ(ArgsFor(both, ep_args), (Args{"/bin/ep", "ls", "-l"}));
  EXPECT_EQ(ArgsFor(both, ep_cleared), (Args{"x"}));

  ImageConfig ep_only = Image(Args{"/app"}, std::nullopt);
  EXPECT_EQ(ArgsFor(ep_only, none), (Args{"/app"}));
  EXPECT_EQ(ArgsFor(ep_only, args), (Args{"/app", "ls", "-l"}));
}

TEST(ProcessArgs, NothingToRunIsAnError) {
  auto a = ProcessArgs(Image(std::nullopt, std::nullopt).config, RunRequest{});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(),
            "no command specified: the image has no CMD or ENTRYPOINT; give one after the image name");
  RunRequest cleared;
  cleared.entrypoint = Args{};
  EXPECT_FALSE(ProcessArgs(Image(Args{"/x"}, Args{"y"}).config, cleared));
  EXPECT_FALSE(ProcessArgs(Image(Args{}, Args{}).config, RunRequest{}));
}

TEST(ProcessEnv, ImageThenOverridesThenDefaults) {
  ContainerConfig c;
  c.env = {"A=1", "B=2", "PATH=/img/bin"};
  RunRequest req;
  req.env = {"B=3", "C=4=5", "EMPTY="};
  auto env = ProcessEnv(c, req, "");
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_EQ(*env, (Args{"A=1", "B=3", "PATH=/img/bin", "C=4=5", "EMPTY="}));

  ContainerConfig bare;
  RunRequest tty;
  tty.tty = true;
  env = ProcessEnv(bare, tty, "h1");
  ASSERT_TRUE(env);
  EXPECT_EQ(*env, (Args{"HOSTNAME=h1", kDefaultPath, "TERM=xterm"}));

  RunRequest bad;
  bad.env = {"NOVALUE"};
  EXPECT_FALSE(ProcessEnv(bare, bad, ""));
  bad.env = {"=x"};
  EXPECT_FALSE(ProcessEnv(bare, bad, ""));
}

class SpecForImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Put(root_ / "etc/passwd", "root:x:0:0::/root:/bin/sh\nweb:x:101:102::/:/bin/sh\n"));
    ASSERT_TRUE(Put(root_ / "etc/group", "root:x:0:\nweb:x:102:\nlog:x:4:web\n"));
    img_ = Image(std::nullopt, Args{"/bin/sh"});
    img_.config.working_dir = "/srv";
    img_.config.env = {"PATH=/bin"};
    req_.id = "0123456789abcdef";
    req_.rootfs = root_.path();
  }
  TempDir root_;
  ImageConfig img_;
  RunRequest req_;
};

TEST_F(SpecForImageTest, DefaultsFromImage) {
  auto s = SpecForImage(img_, req_);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE(s->process);
  EXPECT_EQ(s->process->args, Args{"/bin/sh"});
  EXPECT_EQ(s->process->cwd, "/srv");
  EXPECT_FALSE(s->process->terminal);
  EXPECT_EQ(s->process->user.uid, 0u);
  EXPECT_EQ(s->hostname, "0123456789ab");
  EXPECT_EQ(s->process->env, (Args{"PATH=/bin", "HOSTNAME=0123456789ab"}));
  EXPECT_EQ(s->root.path, root_.path());
  EXPECT_FALSE(s->root.readonly);
  EXPECT_NE(s->FindNamespace("network"), nullptr);
  EXPECT_NE(s->FindNamespace("uts"), nullptr);
  EXPECT_TRUE(oci::ValidateSpec(*s)) << oci::ValidateSpec(*s).error().message();
}

TEST_F(SpecForImageTest, OverridesApply) {
  req_.user = "web";
  req_.workdir = "/tmp";
  req_.tty = true;
  req_.hostname = "box";
  req_.read_only_rootfs = true;
  req_.binds = {{"/host/data", "/data", true}, {"/host/rw", "/rw", false}};
  auto s = SpecForImage(img_, req_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->process->user.uid, 101u);
  EXPECT_EQ(s->process->user.gid, 102u);
  EXPECT_EQ(s->process->user.additional_gids, std::vector<uint32_t>{4});
  EXPECT_EQ(s->process->cwd, "/tmp");
  EXPECT_TRUE(s->process->terminal);
  EXPECT_EQ(s->hostname, "box");
  EXPECT_TRUE(s->root.readonly);
  ASSERT_GE(s->mounts.size(), 2u);
  const auto& ro = s->mounts[s->mounts.size() - 2];
  EXPECT_EQ(ro.destination, "/data");
  EXPECT_EQ(ro.source, "/host/data");
  EXPECT_EQ(ro.options, (Args{"rbind", "ro"}));
  EXPECT_EQ(s->mounts.back().options, (Args{"rbind", "rw"}));
}

TEST_F(SpecForImageTest, ImageUserIsUsedAndUnknownUserFails) {
  img_.config.user = "web:log";
  auto s = SpecForImage(img_, req_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->process->user.uid, 101u);
  EXPECT_EQ(s->process->user.gid, 4u);
  req_.user = "ghost";
  auto bad = SpecForImage(img_, req_);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "unable to find user ghost: no matching entries in passwd file");
}

TEST_F(SpecForImageTest, HostNetworkSharesNetAndUtsAndBindsResolvConf) {
  req_.host_network = true;
  auto s = SpecForImage(img_, req_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->FindNamespace("network"), nullptr);
  EXPECT_EQ(s->FindNamespace("uts"), nullptr);
  EXPECT_NE(s->FindNamespace("pid"), nullptr);
  EXPECT_TRUE(s->hostname.empty());
  int found = 0;
  for (const auto& m : s->mounts) {
    if (m.destination == "/etc/resolv.conf" || m.destination == "/etc/hosts") {
      ++found;
      EXPECT_EQ(m.source, m.destination);
      EXPECT_EQ(m.options, (Args{"rbind", "ro"}));
    }
  }
  EXPECT_EQ(found, 2);
  EXPECT_TRUE(oci::ValidateSpec(*s)) << oci::ValidateSpec(*s).error().message();
  req_.hostname = "x";
  EXPECT_FALSE(SpecForImage(img_, req_));
}

TEST_F(SpecForImageTest, BadInputIsRejected) {
  RunRequest r = req_;
  r.workdir = "relative";
  EXPECT_FALSE(SpecForImage(img_, r));
  r = req_;
  r.binds = {{"relative", "/x", false}};
  EXPECT_FALSE(SpecForImage(img_, r));
  r.binds = {{"/x", "y", false}};
  EXPECT_FALSE(SpecForImage(img_, r));
  r = req_;
  r.rootfs.clear();
  r.user = "web";
  auto no_root = SpecForImage(img_, r);
  ASSERT_FALSE(no_root);
  EXPECT_NE(no_root.error().message().find("needs the rootfs"), std::string::npos);
  r.user = "5:6";
  auto numeric = SpecForImage(img_, r);
  ASSERT_TRUE(numeric) << numeric.error().message();
  EXPECT_EQ(numeric->root.path, "rootfs");
  EXPECT_EQ(numeric->process->user.gid, 6u);
}

TEST_F(SpecForImageTest, RelativeImageWorkdirIsTakenFromRoot) {
  img_.config.working_dir = "app";
  auto s = SpecForImage(img_, req_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->process->cwd, "/app");
  img_.config.working_dir.clear();
  s = SpecForImage(img_, req_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->process->cwd, "/");
}

}  // namespace
}  // namespace moor::image
