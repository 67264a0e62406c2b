// The unix transport against an HttpServer on a temp unix socket. (The https
// transport is tested with the TLS endpoint in tls_test.cc.)
#include <gtest/gtest.h>

#include "api/http_server.h"
#include "api/test_util.h"
#include "api/transport.h"

namespace moor::api {
namespace {

class UnixTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    sock_ = dir_.path() + "/api.sock";
    router_.Handle("POST", "/echo", [](const Request& req, ResponseWriter& w) {
      auto who = req.headers.find("x-moor-who");
      w.SendJson(201, req.body + " who=" + (who == req.headers.end() ? "-" : who->second) +
                          " id=" + w.PeerIdentity());
    });
    router_.Handle("GET", "/count", [](const Request&, ResponseWriter& w) {
      thread_local int served = 0;
      w.SendJson(200, std::to_string(++served));
    });
    router_.Handle("GET", "/stream", [](const Request&, ResponseWriter& w) {
      w.StartStream(200, {});
      w.Write("a\n");
      w.Write("b\n");
    });
    router_.Handle("GET", "/missing", [](const Request&, ResponseWriter& w) {
      w.SendError(404, "no such thing; check the name");
    });
    auto fd = ListenUnix(sock_, 0600);
    ASSERT_TRUE(fd) << fd.error().message();
    server_ = std::make_unique<HttpServer>(std::move(*fd), router_);
    server_->Start();
  }

  testing::TempDir dir_;
  std::string sock_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(UnixTransportTest, DoRoundTripKeepsTheConnection) {
  auto t = MakeUnixTransport(sock_);
  EXPECT_EQ(t->Describe(), "unix://" + sock_);
  auto r = t->Do("POST", "/echo", "{\"k\":1}", {{"X-Moor-Who", "ci"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"k\":1} who=ci id=");  // no identity on an accepted connection
  for (int i = 1; i <= 2; ++i) {
    auto c = t->Do("GET", "/count", "");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->body, std::to_string(i));
  }
}

TEST_F(UnixTransportTest, StreamDeliversPiecesAndErrorBodies) {
  auto t = MakeUnixTransport(sock_);
  std::string got;
  auto st = t->Stream("GET", "/stream", "", {}, [&](std::string_view d) {
    got += d;
    return true;
  });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(*st, 200);
  EXPECT_EQ(got, "a\nb\n");

  got.clear();
  st = t->Stream("GET", "/missing", "", {}, [&](std::string_view d) {
    got += d;
    return true;
  });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(*st, 404);
  EXPECT_NE(got.find("no such thing; check the name"), std::string::npos) << got;
}

TEST_F(UnixTransportTest, NoDaemonIsAnError) {
  auto t = MakeUnixTransport(dir_.path() + "/nothing.sock");
  auto r = t->Do("GET", "/count", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot connect to the moor daemon"), std::string::npos)
      << r.error().message();
  auto st = t->Stream("GET", "/stream", "", {}, [](std::string_view) { return true; });
  EXPECT_FALSE(st);
}

TEST(HttpServerAdopt, ServesAConnectionWithItsIdentityAndStopsIt) {
  Router router;
  router.Handle("GET", "/who", [](const Request&, ResponseWriter& w) {
    w.SendJson(200, w.PeerIdentity() + " " + std::to_string(w.PeerUid()));
  });
  HttpServer server(router);  // no listening socket
  server.Start();             // nothing to accept: a no-op
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd mine(sv[0]);
  server.Adopt(UniqueFd(sv[1]), "alice");
  ASSERT_TRUE(testing::SendRaw(mine.get(), "GET /who HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = testing::ReadUntil(mine.get(), [](const std::string& s) { return s.ends_with("alice -1"); });
  EXPECT_TRUE(got.ends_with("alice -1")) << got;
  server.Stop();  // shuts the kept-alive connection down and joins it
  EXPECT_EQ(testing::ReadUntilClose(mine.get()), "");

  // Adopting after Stop() closes the connection at once.
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd late(sv[0]);
  server.Adopt(UniqueFd(sv[1]), "bob");
  EXPECT_EQ(testing::ReadUntilClose(late.get()), "");
}

}  // namespace
}  // namespace moor::api
