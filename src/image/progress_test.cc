#include "image/progress.h"

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
