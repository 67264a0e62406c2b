// HttpServer + UnixHttpClient over a unix socket in a private temp dir.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>

#include <gtest/gtest.h>

#include "api/http_client.h"
#include "api/http_server.h"
#include "api/test_util.h"

namespace moor::api {
namespace {

using namespace std::chrono_literals;
using testing::RawExchange;
using testing::WaitFor;

// A one-shot signal with a timeout, for handler <-> test hand-offs.
class Flag {
 public:
  void Set() {
    std::lock_guard lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return set_; });
  }
  bool IsSet() {
    std::lock_guard lock(mu_);
    return set_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    sock_ = dir_.path() + "/api.sock";
    router_.Handle("GET", "/_ping", [](const Request&, ResponseWriter& w) {
      w.Send(Response{.status = 200, .headers = {{"content-type", "text/plain"}}, .body = "OK"});
    });
    router_.Handle("POST", "/echo/{id}", [](const Request& req, ResponseWriter& w) {
      w.SendJson(201, "id=" + req.Param("id") + " name=" + req.Query("name").value_or("-") +
                          " body=" + req.body);
    });
    router_.Handle("GET", "/count", [](const Request&, ResponseWriter& w) {
      // One thread per connection: a per-thread counter counts requests on this connection.
      thread_local int served = 0;
      w.SendJson(200, std::to_string(++served));
    });
    router_.Handle("GET", "/silent", [](const Request&, ResponseWriter&) {});
    router_.Handle("GET", "/throws", [](const Request&, ResponseWriter&) {
      throw std::runtime_error("boom");
    });
  }
  void TearDown() override { server_.reset(); }

  void Start(ServerOptions opts = {}) {
    auto fd = ListenUnix(sock_, 0600);
    ASSERT_TRUE(fd) << fd.error().message();
    server_ = std::make_unique<HttpServer>(std::move(*fd), router_, opts);
    server_->Start();
  }

  testing::TempDir dir_;
  std::string sock_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, GetRoundTripWithVersionPrefix) {
  Start();
  UnixHttpClient client(sock_);
  auto r = client.Do("GET", "/v1.41/_ping");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "OK");
  EXPECT_EQ(r->headers["content-type"], "text/plain");
  EXPECT_EQ(r->headers["content-length"], "2");
}

TEST_F(ServerTest, PostWithBodyQueryAndEncodedParam) {
  Start();
  UnixHttpClient client(sock_);
  auto r = client.Do("POST", "/echo/a%2Fb?name=x%20y", "{\"k\":1}");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "id=a/b name=x y body={\"k\":1}");
  EXPECT_EQ(r->headers["content-type"], "application/json");
}

TEST_F(ServerTest, KeepAliveReusesOneConnection) {
  Start();
  UnixHttpClient client(sock_);
  for (int i = 1; i <= 3; ++i) {
    auto r = client.Do("GET", "/count");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, std::to_string(i));
  }
  // Mixed with a POST (body framing must leave the connection in sync).
  ASSERT_TRUE(client.Do("POST", "/echo/1", "abc"));
  auto r = client.Do("GET", "/count");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "4");
}

TEST_F(ServerTest, PipelinedRawRequestsOnOneConnection) {
  Start();
  auto fd = testing::ConnectUnix(sock_);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(testing::SendRaw(fd.get(),
                               "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
                               "POST /echo/7 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                               "GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::string all = testing::ReadUntilClose(fd.get());
  EXPECT_EQ(all.find("HTTP/1.1 200 OK"), 0u) << all;
  EXPECT_NE(all.find("id=7 name=- body=hi"), std::string::npos) << all;
  EXPECT_NE(all.rfind("connection: close"), std::string::npos) << all;
  EXPECT_EQ(all.substr(all.size() - 2), "OK") << all;
}

TEST_F(ServerTest, ClientReconnectsWhenServerClosedIdleConnection) {
  Start();
  UnixHttpClient client(sock_);
  ASSERT_TRUE(client.Do("GET", "/_ping"));
  // A restarted daemon: the kept-alive connection is dead, the socket is new.
  server_.reset();
  Start();
  auto r = client.Do("POST", "/echo/2", "again");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "id=2 name=- body=again");
}

TEST_F(ServerTest, ChunkedRequestBody) {
  Start();
  std::string reply = RawExchange(sock_,
                                  "POST /echo/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                  "Connection: close\r\n\r\n"
                                  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  EXPECT_EQ(reply.find("HTTP/1.1 201 Created\r\n"), 0u) << reply;
  EXPECT_NE(reply.find("body=hello world"), std::string::npos) << reply;
}

TEST_F(ServerTest, ExpectContinueGets100First) {
  Start();
  std::string reply = RawExchange(sock_,
                                  "POST /echo/e HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
                                  "Connection: close\r\n\r\nabc");
  EXPECT_EQ(reply.find("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201"), 0u) << reply;
}

TEST_F(ServerTest, StreamDeliversFirstChunkBeforeHandlerFinishes) {
  Flag first_received;
  std::atomic<bool> handler_timed_out{false};
  router_.Handle("GET", "/stream", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, {{"content-type", "application/json"}});
    EXPECT_TRUE(w.Write("first"));
    // Only continue once the client saw the first chunk: proves it was not buffered.
    if (!first_received.Wait()) handler_timed_out = true;
    EXPECT_TRUE(w.Write("second"));
    EXPECT_TRUE(w.Write(""));  // empty writes must not end the stream
    EXPECT_TRUE(w.Write("third"));
  });
  Start();
  UnixHttpClient client(sock_);
  std::vector<std::string> pieces;
  auto r = client.Stream("GET", "/stream", {}, [&](std::string_view piece) {
    pieces.emplace_back(piece);
    first_received.Set();
    return true;
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(handler_timed_out);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["transfer-encoding"], "chunked");
  std::string joined;
  for (auto& p : pieces) joined += p;
  EXPECT_EQ(joined, "firstsecondthird");
  ASSERT_FALSE(pieces.empty());
  EXPECT_EQ(pieces[0], "first");
  // The connection is still usable after the stream ended.
  auto ping = client.Do("GET", "/_ping");
  ASSERT_TRUE(ping) << ping.error().message();
  EXPECT_EQ(ping->body, "OK");
}

TEST_F(ServerTest, DoJoinsChunkedBody) {
  router_.Handle("GET", "/stream", [](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    w.Write("a");
    w.Write("bc");
  });
  Start();
  UnixHttpClient client(sock_);
  auto r = client.Do("GET", "/stream");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "abc");
}

TEST_F(ServerTest, StreamStoppedByClientIsNoticedByHandler) {
  Flag saw_gone;
  router_.Handle("GET", "/follow", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    for (int i = 0; i < 2000; ++i) {
      if (!w.Write("line\n") || w.ClientGone()) {
        saw_gone.Set();
        return;
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  Start();
  UnixHttpClient client(sock_);
  auto r = client.Stream("GET", "/follow", {}, [](std::string_view) { return false; });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(saw_gone.Wait());
}

TEST_F(ServerTest, StreamErrorStatusReturnsBody) {
  Start();
  UnixHttpClient client(sock_);
  bool called = false;
  auto r = client.Stream("GET", "/nothing-here", {}, [&](std::string_view) { return called = true; });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_FALSE(called);
  EXPECT_NE(r->body.find("page not found"), std::string::npos);
}

TEST_F(ServerTest, StreamingHandlerDoesNotBlockOtherConnections) {
  Flag release;
  Flag started;
  router_.Handle("GET", "/wait", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    w.Write("waiting");
    started.Set();
    release.Wait();
    w.Write("done");
  });
  Start();
  auto streamer = std::async(std::launch::async, [&] {
    UnixHttpClient c(sock_);
    std::string got;
    auto r = c.Stream("GET", "/wait", {}, [&](std::string_view p) {
      got += p;
      return true;
    });
    return r ? got : r.error().message();
  });
  ASSERT_TRUE(started.Wait());
  UnixHttpClient other(sock_);
  auto r = other.Do("GET", "/_ping");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "OK");
  release.Set();
  EXPECT_EQ(streamer.get(), "waitingdone");
}

TEST_F(ServerTest, StopReturnsPromptlyWithBlockedStreamingHandler) {
  Flag started;
  std::atomic<bool> saw_gone{false};
  router_.Handle("GET", "/events", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    w.Write("{}");
    started.Set();
    // Waits on "something else" (no events come), checking for a gone client.
    while (!w.ClientGone()) std::this_thread::sleep_for(10ms);
    saw_gone = true;
    EXPECT_FALSE(w.Write("late"));
  });
  Start();
  auto streamer = std::async(std::launch::async, [&] {
    UnixHttpClient c(sock_);
    return c.Stream("GET", "/events", {}, [](std::string_view) { return true; }).has_value();
  });
  ASSERT_TRUE(started.Wait());
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(saw_gone);
  // The stream was cut before its end: the client reports an error, promptly.
  ASSERT_EQ(streamer.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(streamer.get());
}

TEST_F(ServerTest, StopUnblocksIdleKeepAliveAndHijackedConnections) {
  Flag hijacked;
  router_.Handle("POST", "/attach", [&](const Request&, ResponseWriter& w) {
    std::string pending;
    UniqueFd fd = w.Hijack({}, &pending);
    hijacked.Set();
    char buf[64];
    while (::read(fd.get(), buf, sizeof buf) > 0) {
    }
  });
  Start();
  UnixHttpClient idle(sock_);
  ASSERT_TRUE(idle.Do("GET", "/_ping"));
  UnixHttpClient attacher(sock_);
  std::string pending;
  auto fd = attacher.Upgrade("POST", "/attach", {}, &pending);
  ASSERT_TRUE(fd) << fd.error().message();
  ASSERT_TRUE(hijacked.Wait());
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(ServerTest, UpgradeGivesBidirectionalRawStream) {
  std::atomic<int> peer_uid{-2};
  router_.Handle("POST", "/containers/{id}/attach", [&](const Request&, ResponseWriter& w) {
    peer_uid = w.PeerUid();
    std::string pending;
    UniqueFd fd = w.Hijack({{"content-type", "application/vnd.docker.raw-stream"}}, &pending);
    ASSERT_TRUE(fd);
    if (!pending.empty()) testing::SendRaw(fd.get(), "pending:" + pending);
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      testing::SendRaw(fd.get(), std::string_view(buf, static_cast<size_t>(n)));
    }
    testing::SendRaw(fd.get(), "bye");
  });
  Start();
  UnixHttpClient client(sock_);
  std::string pending;
  int status = 0;
  auto fd = client.Upgrade("POST", "/containers/c1/attach?stream=1", {}, &pending, &status);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(status, 101);
  EXPECT_EQ(peer_uid, static_cast<int>(::getuid()));
  ASSERT_TRUE(testing::SendRaw(fd->get(), "ping"));
  std::string got = pending + testing::ReadUntil(fd->get(), [&](const std::string& s) {
                      return (pending + s).size() >= 4;
                    });
  EXPECT_EQ(got, "ping");
  ASSERT_TRUE(testing::SendRaw(fd->get(), "pong"));
  EXPECT_EQ(testing::ReadUntil(fd->get(), [](const std::string& s) { return s.size() >= 4; }), "pong");
  ::shutdown(fd->get(), SHUT_WR);  // stdin closed: the handler sees EOF, says bye, closes
  EXPECT_EQ(testing::ReadUntilClose(fd->get()), "bye");
}

TEST_F(ServerTest, HijackReturnsBytesReadPastTheRequest) {
  router_.Handle("POST", "/exec/{id}/start", [](const Request&, ResponseWriter& w) {
    std::string pending;
    UniqueFd fd = w.Hijack({}, &pending);
    testing::SendRaw(fd.get(), "pending=" + pending);
  });
  Start();
  // Without "connection: upgrade" the hijack answers 200, as Docker does.
  std::string reply = RawExchange(sock_,
                                  "POST /exec/x/start HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
                                  "stdin-bytes");
  EXPECT_EQ(reply.find("HTTP/1.1 200 OK\r\n"), 0u) << reply;
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), "pending=stdin-bytes") << reply;
}

TEST_F(ServerTest, UpgradeRefusalCarriesMessage) {
  router_.Handle("POST", "/containers/{id}/attach", [](const Request& req, ResponseWriter& w) {
    w.SendError(404, "no such container: " + req.Param("id"));
  });
  Start();
  UnixHttpClient client(sock_);
  std::string pending;
  int status = 0;
  auto fd = client.Upgrade("POST", "/containers/zz/attach", {}, &pending, &status);
  ASSERT_FALSE(fd);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(fd.error().message(), "no such container: zz");
  // The client is still usable afterwards.
  ASSERT_TRUE(client.Do("GET", "/_ping"));
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  Start();
  const char* bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /_ping\r\n\r\n",
      "GET _ping HTTP/1.1\r\n\r\n",
      "GET /_ping  HTTP/1.1\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
      "POST /echo/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /echo/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST /echo/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
  };
  for (const char* req : bad) {
    std::string reply = RawExchange(sock_, req);
    EXPECT_EQ(reply.find("HTTP/1.1 400 Bad Request\r\n"), 0u) << req << "\n→ " << reply;
    EXPECT_NE(reply.find("connection: close"), std::string::npos) << req;
    EXPECT_NE(reply.find("\"message\""), std::string::npos) << req;
  }
  EXPECT_EQ(RawExchange(sock_, "GET /_ping HTTP/2.0\r\n\r\n").find("HTTP/1.1 505"), 0u);
  std::string gzip = RawExchange(sock_, "POST /echo/x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(gzip.find("HTTP/1.1 501"), 0u) << gzip;
  // The server still serves well-formed requests.
  UnixHttpClient client(sock_);
  ASSERT_TRUE(client.Do("GET", "/_ping"));
}

TEST_F(ServerTest, OversizedHeaderIs431AndBodyIs413) {
  Start(ServerOptions{.max_header_bytes = 1024, .max_body_bytes = 100, .idle_timeout_ms = 10000});
  std::string big_header = "GET /_ping HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n";
  EXPECT_EQ(RawExchange(sock_, big_header).find("HTTP/1.1 431"), 0u);
  // No end of header at all, just bytes.
  EXPECT_EQ(RawExchange(sock_, std::string(3000, 'G')).find("HTTP/1.1 431"), 0u);
  EXPECT_EQ(RawExchange(sock_, "POST /echo/x HTTP/1.1\r\nContent-Length: 1000\r\n\r\n").find("HTTP/1.1 413"),
            0u);
  std::string chunked = "POST /echo/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "20\r\n" + std::string(32, 'b') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(RawExchange(sock_, chunked).find("HTTP/1.1 413"), 0u);
  // Within limits it works.
  UnixHttpClient client(sock_);
  auto r = client.Do("POST", "/echo/x", std::string(100, 'c'));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201);
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterTimeout) {
  Start(ServerOptions{.max_header_bytes = 1024, .max_body_bytes = 100, .idle_timeout_ms = 100});
  auto fd = testing::ConnectUnix(sock_);
  ASSERT_TRUE(fd);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::ReadUntilClose(fd.get()), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(ServerTest, HandlerWithoutResponseOrThrowingGets500) {
  Start();
  UnixHttpClient client(sock_);
  auto r = client.Do("GET", "/silent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = client.Do("GET", "/throws");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("boom"), std::string::npos);
}

TEST_F(ServerTest, HeadHasNoBody) {
  Start();
  std::string reply = RawExchange(sock_, "HEAD /_ping HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(reply.find("HTTP/1.1 200 OK\r\n"), 0u) << reply;
  EXPECT_NE(reply.find("content-length: 2\r\n"), std::string::npos) << reply;
  EXPECT_EQ(reply.substr(reply.size() - 4), "\r\n\r\n") << reply;
}

TEST_F(ServerTest, Http10ClosesAfterResponse) {
  Start();
  std::string reply = RawExchange(sock_, "GET /_ping HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.find("HTTP/1.1 200 OK\r\n"), 0u) << reply;
  EXPECT_NE(reply.find("connection: close"), std::string::npos);
}

TEST_F(ServerTest, TcpListenerServesAndHasNoPeerUid) {
  std::atomic<int> uid{-2};
  router_.Handle("GET", "/uid", [&](const Request&, ResponseWriter& w) {
    uid = w.PeerUid();
    w.SendJson(200, "{}");
  });
  auto lfd = ListenTcp("127.0.0.1:0");
  ASSERT_TRUE(lfd) << lfd.error().message();
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(lfd->get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  HttpServer server(std::move(*lfd), router_);
  server.Start();
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_TRUE(testing::SendRaw(c.get(), "GET /uid HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::string reply = testing::ReadUntilClose(c.get());
  EXPECT_EQ(reply.find("HTTP/1.1 200 OK"), 0u) << reply;
  EXPECT_EQ(uid, -1);
}

TEST(UnixHttpClientTest, SaysWhenNothingListens) {
  testing::TempDir dir;
  std::string path = dir.path() + "/missing.sock";
  UnixHttpClient client(path);
  auto r = client.Do("GET", "/_ping");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot connect to the moor daemon at " + path +
                                      ": No such file or directory (is `moor daemon` running?)");
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  std::string pending;
  EXPECT_FALSE(client.Upgrade("POST", "/x", {}, &pending));
}

}  // namespace
}  // namespace moor::api
