#include "net/netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "common/file.h"
#include "common/strings.h"
#include "net/private_netns_testing.h"

namespace moor::net {
namespace {

using testing::RunInPrivateNetns;

std::string NsLink(const std::string& path) {
  char buf[64] = {};
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::string ThreadNetns() {
  return NsLink("/proc/thread-self/ns/net");
}

// "net:[INODE]" of an open namespace file, as readlink of /proc/*/ns/net
// gives it (readlink of the fd would show the pin's path).
std::string FdNetns(int fd) {
  struct stat st{};
  if (fstat(fd, &st) != 0) return "";
  return "net:[" + std::to_string(st.st_ino) + "]";
}

// The mountinfo line whose mount point is path ("" when none).
std::string MountLine(const std::string& path) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return "";
  for (const std::string& line : Split(*info, '\n')) {
    std::vector<std::string> f = Split(line, ' ');
    if (f.size() > 4 && f[4] == path) return line;
  }
  return "";
}

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root";
    }
    char tmpl[] = "/tmp/moor-netns-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    char real[PATH_MAX];
    ASSERT_NE(realpath(tmpl, real), nullptr);
    tmp_ = real;
  }
  void TearDown() override {
    // The child's mount namespace (and any pin in it) is gone by now.
    if (!tmp_.empty()) {
      EXPECT_TRUE(RemoveAll(tmp_));
    }
  }
  std::string tmp_;
};

TEST_F(NetnsTest, CreateAndRemoveLeaveNothingMounted) {
  std::string dir = tmp_ + "/netns";
  auto r = RunInPrivateNetns([&](int out_fd) {
    std::string before = ThreadNetns();
    std::string pin = CHILD_OK(CreatePinnedNetns(dir, "c1"));
    CHILD_EXPECT(pin == dir + "/c1", pin);
    CHILD_EXPECT(ThreadNetns() == before, "caller's namespace changed");
    CHILD_EXPECT(!MountLine(pin).empty(), "pin is not mounted");
    // The directory is a private mount: no "shared:N" propagation tag.
    std::string dir_line = MountLine(dir);
    CHILD_EXPECT(!dir_line.empty(), "pin dir is not a mount point");
    CHILD_EXPECT(dir_line.find("shared:") == std::string::npos, dir_line);
    struct stat st {};
    CHILD_EXPECT(stat(dir.c_str(), &st) == 0 && (st.st_mode & 0777) == 0700, "dir mode");

    UniqueFd fd = CHILD_OK(OpenNetns(pin));
    std::string ns = FdNetns(fd.get());
    CHILD_EXPECT(StartsWith(ns, "net:["), ns);
    CHILD_EXPECT(ns != before, "the pin is the caller's own namespace");

    // A second namespace of the same name is refused; the first stays.
    auto again = CreatePinnedNetns(dir, "c1");
    CHILD_EXPECT(!again && again.error().errnum() == EEXIST, "duplicate name accepted");
    CHILD_EXPECT(!MountLine(pin).empty(), "failed duplicate removed the pin");
    // Another one works, and the dir is not bind-mounted a second time.
    std::string pin2 = CHILD_OK(CreatePinnedNetns(dir, "c2"));
    UniqueFd fd2 = CHILD_OK(OpenNetns(pin2));
    CHILD_EXPECT(FdNetns(fd2.get()) != ns, "two pins share a namespace");

    CHILD_OK(RemovePinnedNetns(pin));
    CHILD_OK(RemovePinnedNetns(pin2));
    CHILD_EXPECT(MountLine(pin).empty() && MountLine(pin2).empty(), "pin still mounted");
    CHILD_EXPECT(!PathExists(pin) && !PathExists(pin2), "pin file left");
    CHILD_EXPECT(ReadFile("/proc/self/mountinfo")->find(dir + "/") == std::string::npos, "mount left");
    CHILD_OK(RemovePinnedNetns(pin));  // absent: ok
    auto gone = OpenNetns(pin);
    CHILD_EXPECT(!gone && gone.error().errnum() == ENOENT, "opened a removed pin");
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NetnsTest, RejectsBadNames) {
  for (const char* bad : {"", "a/b", "..", "."}) {
    auto r = CreatePinnedNetns(tmp_ + "/netns", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("invalid network namespace name"), std::string::npos);
  }
  EXPECT_FALSE(PathExists(tmp_ + "/netns"));
}

TEST_F(NetnsTest, InNetnsRunsInsideAndLeavesCallerAlone) {
  std::string dir = tmp_ + "/netns";
  auto r = RunInPrivateNetns([&](int out_fd) {
    std::string before = ThreadNetns();
    std::string pin = CHILD_OK(CreatePinnedNetns(dir, "c1"));
    UniqueFd fd = CHILD_OK(OpenNetns(pin));
    std::string inside;
    CHILD_OK(InNetns(fd.get(), [&]() -> Result<void> {
      inside = ThreadNetns();
      return {};
    }));
    CHILD_EXPECT(inside == FdNetns(fd.get()), inside);
    CHILD_EXPECT(ThreadNetns() == before, "caller moved");

    // fn's error comes back as is.
    auto failed = InNetns(fd.get(), []() -> Result<void> { return FailInvalid("boom"); });
    CHILD_EXPECT(!failed && failed.error().message() == "boom", "error lost");
    // Not a namespace: setns fails, fn never runs.
    bool ran = false;
    UniqueFd not_ns(open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto bad = InNetns(not_ns.get(), [&]() -> Result<void> {
      ran = true;
      return {};
    });
    CHILD_EXPECT(!bad && !ran, "entered /dev/null as a namespace");
    CHILD_OK(RemovePinnedNetns(pin));
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

}  // namespace
}  // namespace moor::net
