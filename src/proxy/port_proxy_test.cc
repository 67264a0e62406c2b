#include "proxy/port_proxy.h"

#include <gtest/gtest.h>
#include <time.h>

#include <future>
#include <random>

#include "proxy/port_proxy_test_util.h"

namespace moor::net::testing {
namespace {

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

using PortProxyTest = NetnsTest;

TEST_F(PortProxyTest, EchoRoundTrip) {
  TcpBackend backend(TcpBackend::Echo);
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendAll(c.get(), "hello proxy"));
  EXPECT_EQ(ReadExactly(c.get(), 11), "hello proxy");
  ASSERT_TRUE(SendAll(c.get(), "again"));
  EXPECT_EQ(ReadExactly(c.get(), 5), "again");
}

TEST_F(PortProxyTest, MebibyteBothWaysArrivesIntact) {
  TcpBackend backend(TcpBackend::Echo);
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  const std::string data = RandomBytes(1 << 20, 42);
  // Write and read concurrently: the echo cannot be buffered whole anywhere.
  std::thread writer([&] {
    EXPECT_TRUE(SendAll(c.get(), data));
    shutdown(c.get(), SHUT_WR);
  });
  int err = -1;
  std::string got = ReadAll(c.get(), &err);
  writer.join();
  EXPECT_EQ(err, 0) << strerror(err);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(Fnv1a(got), Fnv1a(data));
}

TEST_F(PortProxyTest, ConnectionIsHeldUntilTheBackendListens) {
  TcpBackend backend(TcpBackend::Echo, /*listen_now=*/false);
  ProxyOptions opts;
  opts.connect_timeout_ms = 5000;
  auto proxy = StartProxy(backend.port(), opts);
  ASSERT_TRUE(proxy);
  auto start = SteadyClock::now();
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendAll(c.get(), "early data"));
  // The container's server comes up after the client already connected.
  std::thread later([&] {
    std::this_thread::sleep_for(300ms);
    backend.Listen();
  });
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 1; }));
  EXPECT_EQ(ReadExactly(c.get(), 10), "early data");
  later.join();
  EXPECT_GE(SteadyClock::now() - start, 300ms);
  shutdown(c.get(), SHUT_WR);
  int err = -1;
  EXPECT_EQ(ReadAll(c.get(), &err), "");
  EXPECT_EQ(err, 0) << "connection was reset: " << strerror(err);
}

TEST_F(PortProxyTest, BackendThatNeverListensClosesTheClient) {
  TcpBackend backend(TcpBackend::Echo, /*listen_now=*/false);
  ProxyOptions opts;
  opts.connect_timeout_ms = 200;
  auto proxy = StartProxy(backend.port(), opts);
  ASSERT_TRUE(proxy);
  auto start = SteadyClock::now();
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  int err = -1;
  EXPECT_EQ(ReadAll(c.get(), &err), "");
  auto waited = SteadyClock::now() - start;
  EXPECT_NE(err, EAGAIN) << "client was never closed";
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 3000ms);
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 0; }));
}

TEST_F(PortProxyTest, HalfCloseStillDeliversTheReply) {
  // Answers only after it saw the client's EOF: the FIN must get through
  // while the way back stays open.
  TcpBackend backend([](int fd) {
    std::string req = ReadAll(fd);
    SendAll(fd, "got " + std::to_string(req.size()) + ": " + req);
  });
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendAll(c.get(), "question"));
  ASSERT_EQ(shutdown(c.get(), SHUT_WR), 0);
  int err = -1;
  EXPECT_EQ(ReadAll(c.get(), &err), "got 8: question");
  EXPECT_EQ(err, 0) << strerror(err);
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 0; }));
}

TEST_F(PortProxyTest, BackendHalfCloseFirstStillReadsTheClient) {
  std::promise<std::string> heard;
  TcpBackend backend([&](int fd) {
    SendAll(fd, "banner");
    shutdown(fd, SHUT_WR);
    heard.set_value(ReadAll(fd));
  });
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  int err = -1;
  EXPECT_EQ(ReadAll(c.get(), &err), "banner");
  EXPECT_EQ(err, 0) << strerror(err);
  ASSERT_TRUE(SendAll(c.get(), "late data"));
  shutdown(c.get(), SHUT_WR);
  auto fut = heard.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), "late data");
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 0; }));
}

TEST_F(PortProxyTest, IdleHalfClosedConnectionDoesNotSpin) {
  std::atomic<bool> respond{false};
  TcpBackend backend([&](int fd) {
    ReadAll(fd);
    WaitFor([&] { return respond.load(); });
    SendAll(fd, "done");
  });
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendAll(c.get(), "req"));
  shutdown(c.get(), SHUT_WR);
  std::this_thread::sleep_for(50ms);  // let the FIN travel through the proxy
  timespec before{}, after{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before);
  std::this_thread::sleep_for(300ms);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &after);
  double cpu_ms = (after.tv_sec - before.tv_sec) * 1e3 + (after.tv_nsec - before.tv_nsec) / 1e6;
  EXPECT_LT(cpu_ms, 150) << "the proxy loop is busy while nothing happens";
  respond = true;
  EXPECT_EQ(ReadAll(c.get()), "done");
}

TEST_F(PortProxyTest, BackendResetReachesTheClient) {
  TcpBackend backend([](int fd) {
    char b;
    (void)!recv(fd, &b, 1, 0);
    linger hard{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  });
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  UniqueFd c = ConnectTcp(proxy_port_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendAll(c.get(), "x"));
  int err = -1;
  ReadAll(c.get(), &err);
  EXPECT_EQ(err, ECONNRESET) << strerror(err);
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 0; }));
}

TEST_F(PortProxyTest, HundredConcurrentConnections) {
  TcpBackend backend(TcpBackend::Echo);
  auto proxy = StartProxy(backend.port());
  ASSERT_TRUE(proxy);
  constexpr int kConns = 100;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kConns; ++i) {
    clients.push_back(ConnectTcp(proxy_port_));
    ASSERT_TRUE(clients.back()) << "connection " << i << ": " << strerror(errno);
  }
  for (int i = 0; i < kConns; ++i) {
    ASSERT_TRUE(SendAll(clients[i].get(), "message " + std::to_string(1000 + i)));
  }
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == kConns; })) << proxy->ActiveConnections();
  for (int i = 0; i < kConns; ++i) {
    EXPECT_EQ(ReadExactly(clients[i].get(), 12), "message " + std::to_string(1000 + i));
  }
  clients.clear();
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 0; })) << proxy->ActiveConnections();
}

TEST_F(PortProxyTest, DestructorWithOpenConnectionsReturnsPromptly) {
  TcpBackend echo(TcpBackend::Echo);
  TcpBackend silent(TcpBackend::Echo, /*listen_now=*/false);
  auto fd = BindHostPort("127.0.0.1", 0, false, &proxy_port_);
  ASSERT_TRUE(fd);
  int held_port = 0;
  auto held_fd = BindHostPort("127.0.0.1", 0, false, &held_port);
  ASSERT_TRUE(held_fd);
  std::vector<PortForward> fwds;
  fwds.push_back(PortForward{std::move(*fd), false, Loopback(echo.port())});
  fwds.push_back(PortForward{std::move(*held_fd), false, Loopback(silent.port())});
  auto proxy = PortProxy::Start(std::move(fwds));
  ASSERT_TRUE(proxy) << proxy.error().message();

  UniqueFd relayed = ConnectTcp(proxy_port_);
  ASSERT_TRUE(relayed);
  ASSERT_TRUE(SendAll(relayed.get(), "ping"));
  ASSERT_EQ(ReadExactly(relayed.get(), 4), "ping");
  UniqueFd held = ConnectTcp(held_port);  // waits for a backend that never listens
  ASSERT_TRUE(held);
  EXPECT_TRUE(WaitFor([&] { return (*proxy)->ActiveConnections() == 2; }));

  auto start = SteadyClock::now();
  proxy->reset();
  EXPECT_LT(SteadyClock::now() - start, 5000ms);  // vs. the 60 s connect timeout
  // Both clients learn at once that the proxy is gone.
  ReadAll(relayed.get());
  ReadAll(held.get());
  EXPECT_LT(SteadyClock::now() - start, 8000ms);
}

TEST_F(PortProxyTest, StartRejectsBadForwards) {
  std::vector<PortForward> none;
  none.push_back(PortForward{UniqueFd(), false, Loopback(80)});
  auto r = PortProxy::Start(std::move(none));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no listening socket"), std::string::npos) << r.error().message();

  auto udp_fd = BindHostPort("127.0.0.1", 0, /*udp=*/true);
  ASSERT_TRUE(udp_fd);
  std::vector<PortForward> mismatch;
  mismatch.push_back(PortForward{std::move(*udp_fd), /*udp=*/false, Loopback(80)});
  r = PortProxy::Start(std::move(mismatch));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a TCP socket"), std::string::npos) << r.error().message();

  auto tcp_fd = BindHostPort("127.0.0.1", 0, false);
  ASSERT_TRUE(tcp_fd);
  std::vector<PortForward> no_port;
  no_port.push_back(PortForward{std::move(*tcp_fd), false, Loopback(0)});
  r = PortProxy::Start(std::move(no_port));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("backend"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace moor::net::testing
