// Test-only helpers for the port proxy tests: a private network namespace per
// test, small blocking loopback clients and backends.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "proxy/port_proxy.h"

namespace moor::net::testing {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

inline sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline int LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  return ntohs(a.sin_port);
}

// Blocking calls in tests must not hang the suite when the proxy misbehaves.
inline void SetTimeouts(int fd, std::chrono::milliseconds t = 5000ms) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

inline UniqueFd ConnectTcp(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  SetTimeouts(fd.get());
  sockaddr_in a = Loopback(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  return fd;
}

inline bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until EOF. *error gets the errno that ended the read early (0 at EOF).
inline std::string ReadAll(int fd, int* error = nullptr) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (error) *error = n == 0 ? 0 : errno;
    return out;
  }
}

inline std::string ReadExactly(int fd, size_t len) {
  std::string out(len, '\0');
  size_t got = 0;
  while (got < len) {
    ssize_t n = recv(fd, out.data() + got, len - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

template <class Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  auto end = SteadyClock::now() + timeout;
  while (!pred()) {
    if (SteadyClock::now() >= end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A TCP backend on 127.0.0.1: one thread per connection runs `handler`.
// Created bound but not listening when listen_now is false, so connects to
// its port are refused until Listen() (no port can be lost to a race).
class TcpBackend {
 public:
  explicit TcpBackend(std::function<void(int)> handler, bool listen_now = true)
      : handler_(std::move(handler)) {
    sock_.Reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = Loopback(0);
    EXPECT_EQ(bind(sock_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
    port_ = LocalPort(sock_.get());
    if (listen_now) Listen();
  }
  ~TcpBackend() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  int port() const { return port_; }
  void Listen() {
    EXPECT_EQ(listen(sock_.get(), 1024), 0) << strerror(errno);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  static void Echo(int fd) {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0 || !SendAll(fd, std::string_view(buf, static_cast<size_t>(n)))) return;
    }
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{sock_.get(), POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int fd = accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      SetTimeouts(fd);
      conns_.emplace_back([this, fd] {
        UniqueFd owned(fd);
        handler_(fd);
      });
    }
  }

  std::function<void(int)> handler_;
  UniqueFd sock_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // only the acceptor thread adds, joined after it
};

// Each test runs in a network namespace of its own (the tests run as root in
// CI), so its traffic never leaves a private loopback. Without the privilege
// the tests fall back to the host's 127.0.0.1 only.
class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;  // 100 relayed connections need ~1000 fds
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    orig_netns_.Reset(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (orig_netns_ && unshare(CLONE_NEWNET) == 0) {
      in_netns_ = true;
      UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq ifr{};
      strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
      ASSERT_EQ(ioctl(s.get(), SIOCGIFFLAGS, &ifr), 0) << strerror(errno);
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      ASSERT_EQ(ioctl(s.get(), SIOCSIFFLAGS, &ifr), 0) << strerror(errno);
    }
  }
  void TearDown() override {
    if (in_netns_) {
      EXPECT_EQ(setns(orig_netns_.get(), CLONE_NEWNET), 0) << strerror(errno);
    }
  }

  // A TCP or UDP proxy from a fresh 127.0.0.1 port to 127.0.0.1:backend_port.
  std::unique_ptr<PortProxy> StartProxy(int backend_port, ProxyOptions opts = {}, bool udp = false) {
    auto fd = BindHostPort("127.0.0.1", 0, udp, &proxy_port_);
    EXPECT_TRUE(fd) << fd.error().message();
    if (!fd) return nullptr;
    std::vector<PortForward> fwds;
    fwds.push_back(PortForward{std::move(*fd), udp, Loopback(backend_port)});
    auto proxy = PortProxy::Start(std::move(fwds), opts);
    EXPECT_TRUE(proxy) << proxy.error().message();
    return proxy ? std::move(*proxy) : nullptr;
  }

  int proxy_port_ = 0;

 private:
  UniqueFd orig_netns_;
  bool in_netns_ = false;
};

}  // namespace moor::net::testing
