// RunImage end to end with a busybox rootfs (needs root and /bin/busybox).
#include "image/run/run_image.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/strings.h"
#include "image/run/image_spec.h"
#include "image/run/test_util.h"

namespace moor::image {
namespace {

using testing::Put;
using testing::TempDir;

bool AnyMountUnder(const std::string& dir) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return true;
  for (const auto& line : Split(*info, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 4 && StartsWith(f[4], dir)) return true;
  }
  return false;
}

// Runs fn with fd 1 redirected to `path`; the container inherits it.
template <class Fn>
auto WithStdoutTo(const std::string& path, Fn&& fn) {
  fflush(stdout);
  UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  UniqueFd saved(::fcntl(1, F_DUPFD_CLOEXEC, 3));
  ::dup2(out.get(), 1);
  auto r = fn();
  ::dup2(saved.get(), 1);
  return r;
}

class RunImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string busybox = PathExists("/bin/busybox") ? "/bin/busybox" : "/usr/bin/busybox";
    if (!PathExists(busybox)) GTEST_SKIP() << "needs busybox";
    lower_ = t_ / "lower";
    ASSERT_TRUE(MkdirAll(lower_ + "/bin"));
    auto bytes = ReadFile(busybox);
    ASSERT_TRUE(bytes);
    ASSERT_TRUE(Put(lower_ + "/bin/busybox", *bytes));
    ASSERT_EQ(::chmod((lower_ + "/bin/busybox").c_str(), 0755), 0);
    for (const char* applet : {"sh", "echo", "cat", "id"})
      ASSERT_EQ(::symlink("busybox", (lower_ + "/bin/" + applet).c_str()), 0);
    for (const char* d : {"proc", "sys", "dev", "tmp"}) ASSERT_TRUE(MkdirAll(lower_ + "/" + d));
    ASSERT_TRUE(Put(lower_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\ntester:x:1000:1000::/tmp:/bin/sh\n"));
    ASSERT_TRUE(Put(lower_ + "/etc/group", "root:x:0:\ntester:x:1000:\n"));
    work_ = t_ / "work";
    id_ = "moor-run-image-test-" + std::to_string(::getpid());
  }

  SpecMaker Maker(std::vector<std::string> args, std::string user = "") {
    return [args = std::move(args), user = std::move(user), this](const std::string& rootfs) {
      ImageConfig img;
      img.config.cmd = std::vector<std::string>{"/bin/sh"};
      RunRequest req;
      req.id = id_;
      req.rootfs = rootfs;
      req.args = args;
      req.user = user;
      return SpecForImage(img, req);
    };
  }

  TempDir t_;
  std::string lower_, work_, id_;
};

TEST_F(RunImageTest, RunsDiscardsWritesAndCleansUp) {
  std::string out = t_ / "stdout";
  auto code = WithStdoutTo(out, [&] {
    return RunImage({lower_}, work_, Maker({"/bin/sh", "-c", "echo hi > /out; cat /out; id -u"}),
                    t_ / "state", id_, RunIo{});
  });
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(ReadFile(out).value_or("<none>"), "hi\n0\n");
  EXPECT_FALSE(PathExists(lower_ + "/out"));
  EXPECT_FALSE(PathExists(work_));
  EXPECT_FALSE(AnyMountUnder(t_.path()));
  EXPECT_FALSE(PathExists(t_ / ("state/" + id_)));
}

TEST_F(RunImageTest, ExitCodeAndUserPassThrough) {
  std::string out = t_ / "stdout";
  auto code = WithStdoutTo(out, [&] {
    return RunImage({lower_}, work_, Maker({"/bin/sh", "-c", "id -u; id -g; exit 7"}, "tester"), t_ / "state",
                    id_, RunIo{});
  });
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(ReadFile(out).value_or("<none>"), "1000\n1000\n");
  EXPECT_FALSE(PathExists(work_));
  EXPECT_FALSE(AnyMountUnder(t_.path()));
}

TEST_F(RunImageTest, SpecErrorStillUnmountsAndRemoves) {
  auto code = RunImage({lower_}, work_, Maker({"/bin/sh"}, "ghost"), t_ / "state", id_, RunIo{});
  ASSERT_FALSE(code);
  EXPECT_NE(code.error().message().find("unable to find user ghost"), std::string::npos)
      << code.error().message();
  EXPECT_FALSE(PathExists(work_));
  EXPECT_FALSE(AnyMountUnder(t_.path()));
}

TEST_F(RunImageTest, MountErrorStillRemovesWorkDir) {
  auto code = RunImage({t_ / "missing-layer"}, work_, Maker({"/bin/sh"}), t_ / "state", id_, RunIo{});
  ASSERT_FALSE(code);
  EXPECT_FALSE(PathExists(work_));
  EXPECT_FALSE(AnyMountUnder(t_.path()));
}

TEST_F(RunImageTest, RuntimeErrorStillCleansUp) {
  // A tty without a console socket is refused by the runtime at create.
  auto maker = [&](const std::string& rootfs) -> Result<oci::Spec> {
    auto s = Maker({"/bin/sh"})(rootfs);
    if (s) s->process->terminal = true;
    return s;
  };
  auto code = RunImage({lower_}, work_, maker, t_ / "state", id_, RunIo{});
  ASSERT_FALSE(code);
  EXPECT_NE(code.error().message().find("console"), std::string::npos) << code.error().message();
  EXPECT_FALSE(PathExists(work_));
  EXPECT_FALSE(AnyMountUnder(t_.path()));
  EXPECT_FALSE(PathExists(t_ / ("state/" + id_)));
}

}  // namespace
}  // namespace moor::image
