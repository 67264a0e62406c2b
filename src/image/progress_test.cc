#include "image/progress.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace moor::image {
namespace {

std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(Progress, PlainModePrintsEachStateChangeOnceAndNoByteCounts) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  {
    auto sink = MakeProgress(p[1], false);  // a pipe is not a terminal
    sink->Status("abc", "Downloading");
    sink->Bytes("abc", 10, 100);
    sink->Status("abc", "Downloading");
    sink->Status("abc", "Pull complete");
    sink->Message("Digest: sha256:x");
    sink->Flush();
  }
  close(p[1]);
  EXPECT_EQ(Drain(p[0]), "abc: Downloading\nabc: Pull complete\nDigest: sha256:x\n");
  close(p[0]);
}

TEST(Progress, QuietPrintsNothing) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  {
    auto sink = MakeProgress(p[1], true);
    sink->Status("abc", "Downloading");
    sink->Message("x");
  }
  close(p[1]);
  EXPECT_EQ(Drain(p[0]), "");
  close(p[0]);
}

}  // namespace
}  // namespace moor::image

namespace moor::image {
namespace {

// On a terminal: lines are redrawn in place (cursor up, clear line) and a
// transfer shows a bar with byte counts.
TEST(Progress, TerminalModeDrawsBarsInPlace) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  {
    auto sink = MakeProgress(slave, false);
    sink->Status("layer1", "Downloading");
    sink->Status("layer2", "Waiting");
    sink->Bytes("layer1", 50'000'000, 100'000'000);
    sink->Flush();
    sink->Status("layer1", "Pull complete");
  }
  close(slave);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(master, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(master);
  EXPECT_NE(out.find("\x1b[2A"), std::string::npos) << "two item lines are redrawn in place";
  EXPECT_NE(out.find("layer1: Downloading ["), std::string::npos) << out;
  EXPECT_NE(out.find("50.0MB/100.0MB"), std::string::npos) << out;
  EXPECT_NE(out.find("layer1: Pull complete"), std::string::npos) << out;
  EXPECT_NE(out.find("layer2: Waiting"), std::string::npos) << out;
}

}  // namespace
}  // namespace moor::image
