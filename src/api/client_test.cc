// UnixHttpClient against a scripted fake server, for framings and failures
// the real server never produces.
#include <sys/socket.h>

#include <thread>

#include <gtest/gtest.h>

#include "api/http_client.h"
#include "api/http_server.h"
#include "api/test_util.h"

namespace moor::api {
namespace {

using testing::ReadUntil;
using testing::SendRaw;

bool HeadDone(const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }

class FakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/fake.sock";
    auto fd = ListenUnix(path_, 0600);
    ASSERT_TRUE(fd) << fd.error().message();
    listen_ = std::move(*fd);
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
  }
  // Gives up after 10 s so a client that never comes fails the test instead of hanging it.
  UniqueFd Accept() {
    pollfd p{listen_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return UniqueFd();
    return UniqueFd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }

  testing::TempDir dir_;
  std::string path_;
  UniqueFd listen_;
  std::thread server_;
};

TEST_F(FakeServerTest, RetriesOnceWhenKeptAliveConnectionClosesBeforeAnswer) {
  std::string second_request;
  server_ = std::thread([&] {
    UniqueFd c1 = Accept();
    ReadUntil(c1.get(), HeadDone);
    SendRaw(c1.get(), "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na");
    ReadUntil(c1.get(), HeadDone);  // the next request arrives ...
    c1.Reset();                     // ... and the server closes without a byte of answer
    UniqueFd c2 = Accept();
    second_request = ReadUntil(c2.get(), HeadDone);
    // No length, no chunking: the body runs until close.
    SendRaw(c2.get(), "HTTP/1.1 200 OK\r\n\r\nuntil-close");
  });
  UnixHttpClient client(path_);
  auto r1 = client.Do("GET", "/one");
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_EQ(r1->body, "a");
  auto r2 = client.Do("GET", "/two");
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(r2->body, "until-close");
  server_.join();
  EXPECT_EQ(second_request.find("GET /two HTTP/1.1\r\n"), 0u) << second_request;
}

TEST_F(FakeServerTest, NoRetryOnFreshConnectionOrAfterPartialAnswer) {
  server_ = std::thread([&] {
    UniqueFd c1 = Accept();
    ReadUntil(c1.get(), HeadDone);
    c1.Reset();  // fresh connection closed without answer: an error, not a retry
    UniqueFd c2 = Accept();
    ReadUntil(c2.get(), HeadDone);
    SendRaw(c2.get(), "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");  // cut short
  });
  UnixHttpClient client(path_);
  auto r1 = client.Do("GET", "/one");
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message().find("closed the connection"), std::string::npos) << r1.error().message();
  auto r2 = client.Do("GET", "/two");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("before the response was complete"), std::string::npos);
}

TEST_F(FakeServerTest, SkipsInterimResponsesAndRejectsGarbage) {
  server_ = std::thread([&] {
    UniqueFd c1 = Accept();
    ReadUntil(c1.get(), HeadDone);
    SendRaw(c1.get(),
            "HTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    ReadUntil(c1.get(), HeadDone);
    SendRaw(c1.get(), "SSH-2.0-OpenSSH\r\n\r\n");
  });
  UnixHttpClient client(path_);
  auto r1 = client.Do("POST", "/x", "{}");
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "abc");
  auto r2 = client.Do("GET", "/y");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("malformed"), std::string::npos) << r2.error().message();
}

}  // namespace
}  // namespace moor::api
