#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "api/test_util.h"

namespace moor::api {
namespace {

using testing::TempDir;

TEST(ListenUnix, SetsModeOnTheSocket) {
  TempDir dir;
  std::string path = dir.path() + "/moor.sock";
  auto fd = ListenUnix(path, 0600);
  ASSERT_TRUE(fd) << fd.error().message();
  struct stat st{};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(testing::ConnectUnix(path).valid());
}

TEST(ListenUnix, ReplacesStaleSocket) {
  TempDir dir;
  std::string path = dir.path() + "/moor.sock";
  {
    auto first = ListenUnix(path, 0600);
    ASSERT_TRUE(first);
  }  // closed: the file stays behind, nothing accepts on it
  ASSERT_TRUE(PathExists(path));
  auto second = ListenUnix(path, 0660);
  ASSERT_TRUE(second) << second.error().message();
  struct stat st{};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_TRUE(testing::ConnectUnix(path).valid());
}

TEST(ListenUnix, RefusesLiveSocket) {
  TempDir dir;
  std::string path = dir.path() + "/moor.sock";
  auto first = ListenUnix(path, 0600);
  ASSERT_TRUE(first);
  auto second = ListenUnix(path, 0600);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("is in use by another process"), std::string::npos)
      << second.error().message();
  // The live socket still works.
  EXPECT_TRUE(testing::ConnectUnix(path).valid());
}

TEST(ListenUnix, RefusesNonSocketFileAndLongPath) {
  TempDir dir;
  std::string path = dir.path() + "/file";
  std::ofstream(path) << "x";
  auto r = ListenUnix(path, 0600);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is not a socket"), std::string::npos) << r.error().message();
  auto longp = ListenUnix(dir.path() + "/" + std::string(200, 'a'), 0600);
  ASSERT_FALSE(longp);
  EXPECT_NE(longp.error().message().find("longer than"), std::string::npos);
}

TEST(ListenTcp, BindsLoopbackWithEphemeralPort) {
  auto fd = ListenTcp("127.0.0.1:0");
  ASSERT_TRUE(fd) << fd.error().message();
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  EXPECT_EQ(addr.sin_family, AF_INET);
  EXPECT_NE(ntohs(addr.sin_port), 0);
}

TEST(ListenTcp, RejectsBadAddresses) {
  for (const char* bad : {"8500", "127.0.0.1:99999", "127.0.0.1:x", "example.com:80", "[::1:80", "[::1]"}) {
    auto r = ListenTcp(bad);
    EXPECT_FALSE(r) << bad;
  }
}

}  // namespace
}  // namespace moor::api
