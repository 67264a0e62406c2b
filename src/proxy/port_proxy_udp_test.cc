// UDP forwarding and BindHostPort.
#include <gtest/gtest.h>

#include "proxy/port_proxy.h"
#include "proxy/port_proxy_test_util.h"

namespace moor::net::testing {
namespace {

// Echoes each datagram back to its sender, prefixed with "echo:".
class UdpEchoBackend {
 public:
  UdpEchoBackend() {
    sock_.Reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = Loopback(0);
    EXPECT_EQ(bind(sock_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    port_ = LocalPort(sock_.get());
    thread_ = std::thread([this] {
      char buf[2048];
      while (!stop_) {
        pollfd p{sock_.get(), POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(sock_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) continue;
        std::string reply = "echo:" + std::string(buf, static_cast<size_t>(n));
        sendto(sock_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  }
  ~UdpEchoBackend() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }

 private:
  UniqueFd sock_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

UniqueFd UdpClient() {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  SetTimeouts(fd.get(), 2000ms);
  return fd;
}

// Sends `msg` to the proxy and returns the reply and where it came from.
std::string Exchange(int fd, int port, const std::string& msg, int* reply_port = nullptr) {
  sockaddr_in to = Loopback(port);
  if (sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return "";
  char buf[2048];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return "";
  if (reply_port) *reply_port = ntohs(from.sin_port);
  return std::string(buf, static_cast<size_t>(n));
}

using PortProxyUdpTest = NetnsTest;

TEST_F(PortProxyUdpTest, EchoThroughProxyPerClientFlows) {
  UdpEchoBackend backend;
  ProxyOptions opts;
  opts.udp_idle_timeout_ms = 1000;  // both flows must outlive the exchanges below
  auto proxy = StartProxy(backend.port(), opts, /*udp=*/true);
  ASSERT_TRUE(proxy);
  UniqueFd a = UdpClient();
  UniqueFd b = UdpClient();
  int from_port = 0;
  EXPECT_EQ(Exchange(a.get(), proxy_port_, "one", &from_port), "echo:one");
  EXPECT_EQ(from_port, proxy_port_) << "reply must come from the published port";
  EXPECT_EQ(Exchange(b.get(), proxy_port_, "two"), "echo:two");
  EXPECT_EQ(Exchange(a.get(), proxy_port_, "three"), "echo:three");
  EXPECT_EQ(proxy->ActiveConnections(), 2u);
  // Idle flows are forgotten.
  EXPECT_TRUE(WaitFor([&] { return proxy->ActiveConnections() == 0; }, 10000ms)) << proxy->ActiveConnections();
  EXPECT_EQ(Exchange(a.get(), proxy_port_, "four"), "echo:four");
}

TEST_F(PortProxyUdpTest, DatagramsBeforeTheBackendExistsAreDroppedNotFatal) {
  // Reserve a port, then free it: nothing listens there at first.
  int backend_port = 0;
  {
    auto tmp = BindHostPort("127.0.0.1", 0, /*udp=*/true, &backend_port);
    ASSERT_TRUE(tmp);
  }
  auto proxy = StartProxy(backend_port, {}, /*udp=*/true);
  ASSERT_TRUE(proxy);
  UniqueFd a = UdpClient();
  SetTimeouts(a.get(), 200ms);
  EXPECT_EQ(Exchange(a.get(), proxy_port_, "lost"), "");
  // The flow survives the ICMP error; once a backend exists, replies flow.
  UniqueFd backend(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = Loopback(backend_port);
  ASSERT_EQ(bind(backend.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  SetTimeouts(backend.get(), 2000ms);
  sockaddr_in to = Loopback(proxy_port_);
  ASSERT_GT(sendto(a.get(), "hi", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  char buf[16];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  ASSERT_EQ(recvfrom(backend.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len), 2);
  ASSERT_EQ(sendto(backend.get(), "ok", 2, 0, reinterpret_cast<sockaddr*>(&from), len), 2);
  SetTimeouts(a.get(), 2000ms);
  EXPECT_EQ(ReadExactly(a.get(), 2), "ok");
}

using BindHostPortTest = NetnsTest;

TEST_F(BindHostPortTest, PortZeroPicksAFreePort) {
  int port = 0;
  auto fd = BindHostPort("127.0.0.1", 0, false, &port);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_GT(port, 0);
  EXPECT_EQ(LocalPort(fd->get()), port);
  EXPECT_TRUE(fcntl(fd->get(), F_GETFL) & O_NONBLOCK);
  UniqueFd c = ConnectTcp(port);  // listening already
  EXPECT_TRUE(c);
}

TEST_F(BindHostPortTest, TakenPortSaysSoAndWhatToDo) {
  for (bool udp : {false, true}) {
    int port = 0;
    auto first = BindHostPort("127.0.0.1", 0, udp, &port);
    ASSERT_TRUE(first) << first.error().message();
    auto second = BindHostPort("127.0.0.1", port, udp);
    ASSERT_FALSE(second);
    const std::string& msg = second.error().message();
    std::string expected = "port " + std::to_string(port) + (udp ? "/udp" : "/tcp") +
                           " on 127.0.0.1 is already in use (EADDRINUSE): choose another host port";
    EXPECT_EQ(msg, expected);
    EXPECT_EQ(second.error().errnum(), EADDRINUSE);
  }
}

TEST_F(BindHostPortTest, BadInputIsRejected) {
  auto r = BindHostPort("not-an-ip", 8080, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not an IPv4 address"), std::string::npos) << r.error().message();
  r = BindHostPort("::1", 8080, false);
  ASSERT_FALSE(r);
  r = BindHostPort("127.0.0.1", 70000, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("out of range"), std::string::npos) << r.error().message();
  r = BindHostPort("127.0.0.1", -1, true);
  ASSERT_FALSE(r);
  r = BindHostPort("192.0.2.1", 0, false);  // TEST-NET address, not on this host
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EADDRNOTAVAIL) << r.error().message();
}

}  // namespace
}  // namespace moor::net::testing
