// Real netlink against the kernel, inside a private network namespace per
// test (see private_netns_testing.h): nothing here can touch host links.
#include "net/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/file.h"
#include "common/strings.h"
#include "net/netns.h"
#include "net/private_netns_testing.h"
#include "net/subnet.h"

namespace moor::net {
namespace {

using testing::RunInPrivateNetns;

constexpr const char* kBridge = "moortest0";

uint32_t Ip(const char* s) {
  return *ParseIpv4(s);
}

struct IfInfo {
  bool exists = false;
  unsigned flags = 0;
  std::vector<std::string> addrs;  // "10.99.0.1/24"
};

// What getifaddrs says about one interface, in the calling thread's netns.
IfInfo Interface(const std::string& name) {
  IfInfo info;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return info;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (name != a->ifa_name) continue;
    info.exists = true;
    info.flags = a->ifa_flags;
    if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET) {
      uint32_t addr = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
      uint32_t mask = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr);
      info.addrs.push_back(FormatIpv4(addr) + "/" + std::to_string(__builtin_popcount(mask)));
    }
  }
  freeifaddrs(list);
  return info;
}

// The gateway of the IPv4 default route in the calling thread's netns
// (/proc/thread-self: /proc/self/net would show the main thread's).
std::string DefaultGateway() {
  auto routes = ReadFile("/proc/thread-self/net/route");
  if (!routes) return "";
  for (const std::string& line : Split(*routes, '\n')) {
    std::vector<std::string> f;
    for (const std::string& x : Split(line, '\t')) {
      if (!Trim(x).empty()) f.push_back(std::string(Trim(x)));
    }
    if (f.size() > 7 && f[1] == "00000000" && f[7] == "00000000") return f[0] + " " + f[2];
  }
  return "";
}

std::string RouteHex(uint32_t host_order) {
  char buf[16];
  snprintf(buf, sizeof buf, "%08X", htonl(host_order));
  return buf;
}

// Connects to addr:port, retrying until timeout (the link may still be
// coming up); returns the connected socket or -1.
int ConnectWithin(uint32_t addr, int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(addr);
    if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return s;
    if (errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (poll(&p, 1, 1000) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
        return s;
    }
    close(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root";
    }
    char tmpl[] = "/tmp/moor-netlink-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    char real[PATH_MAX];
    ASSERT_NE(realpath(tmpl, real), nullptr);
    tmp_ = real;
  }
  void TearDown() override {
    if (!tmp_.empty()) {
      EXPECT_TRUE(RemoveAll(tmp_));
    }
  }
  std::string tmp_;
  std::unique_ptr<Netlink> nl_ = MakeLibnlNetlink();
};

TEST_F(NetlinkTest, EnsureBridgeIsIdempotent) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    CHILD_EXPECT(!CHILD_OK(nl_->LinkExists(kBridge)), "bridge before creation");
    CHILD_OK(nl_->EnsureBridge(kBridge, Ip("10.99.0.1"), 24, 1500));
    CHILD_OK(nl_->EnsureBridge(kBridge, Ip("10.99.0.1"), 24, 1500));
    CHILD_EXPECT(CHILD_OK(nl_->LinkExists(kBridge)), "no bridge");
    IfInfo br = Interface(kBridge);
    CHILD_EXPECT(br.flags & IFF_UP, "bridge is down");
    CHILD_EXPECT(br.addrs == std::vector<std::string>{"10.99.0.1/24"}, "addresses: " + Join(br.addrs, ","));
    auto names = CHILD_OK(nl_->LinksWithPrefix("moortest"));
    CHILD_EXPECT(names == std::vector<std::string>{kBridge}, Join(names, ","));
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NetlinkTest, EnsureBridgeRefusesANonBridge) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    auto res = nl_->EnsureBridge("lo", Ip("10.99.0.1"), 24, 1500);
    CHILD_EXPECT(!res, "lo accepted as a bridge");
    CHILD_EXPECT(res.error().message().find("not a bridge") != std::string::npos, res.error().message());
    CHILD_EXPECT(Interface("lo").addrs == std::vector<std::string>{}, "address added to lo");
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NetlinkTest, VethIntoPinnedNetnsCarriesTcp) {
  std::string dir = tmp_ + "/netns";
  auto r = RunInPrivateNetns([&](int out_fd) {
    CHILD_OK(nl_->EnsureBridge(kBridge, Ip("10.99.0.1"), 24, 1500));
    std::string pin = CHILD_OK(CreatePinnedNetns(dir, "c1"));
    UniqueFd ns = CHILD_OK(OpenNetns(pin));
    CHILD_OK(nl_->CreateVethInNetns("vmoor0", "vmoortmp0", kBridge, ns.get(), "eth0", Ip("10.99.0.2"), 24,
                                    Ip("10.99.0.1"), 1500));

    // Host side: on the bridge and up; the peer is not here.
    IfInfo host = Interface("vmoor0");
    CHILD_EXPECT(host.exists && (host.flags & IFF_UP), "host side missing or down");
    // /sys shows the namespace of whoever mounted it: mount one for ours (in
    // the child's private mount namespace).
    CHILD_EXPECT(mount("sysfs", "/sys", "sysfs", 0, nullptr) == 0, "mount sysfs");
    auto master_link = ReadFile("/sys/class/net/vmoor0/master/uevent");
    CHILD_EXPECT(master_link && master_link->find("INTERFACE=" + std::string(kBridge)) != std::string::npos,
                 "host side not attached to the bridge");
    CHILD_EXPECT(!Interface("vmoortmp0").exists && !Interface("eth0").exists, "peer left in host netns");

    // Container side.
    UniqueFd listener;
    int port = 0;
    CHILD_OK(InNetns(ns.get(), [&]() -> Result<void> {
      IfInfo eth0 = Interface("eth0");
      if (!eth0.exists || !(eth0.flags & IFF_UP)) return FailInvalid("eth0 missing or down");
      if (eth0.addrs != std::vector<std::string>{"10.99.0.2/24"}) {
        return FailInvalid("eth0 addresses: " + Join(eth0.addrs, ","));
      }
      if (!(Interface("lo").flags & IFF_UP)) return FailInvalid("lo is down");
      if (Interface("vmoortmp0").exists) return FailInvalid("temporary name left");
      std::string route = DefaultGateway();
      if (route != "eth0 " + RouteHex(Ip("10.99.0.1"))) return FailInvalid("default route: " + route);
      // A listener that lives in the container's namespace.
      listener.Reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(Ip("10.99.0.2"));
      socklen_t len = sizeof sa;
      if (bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
          listen(listener.get(), 4) != 0 ||
          getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        return FailErrno("listen in container");
      }
      port = ntohs(sa.sin_port);
      return {};
    }));

    // From the bridge's side, through the veth, to the listener.
    UniqueFd client(ConnectWithin(Ip("10.99.0.2"), port, 5000));
    CHILD_EXPECT(client.valid(), "connect to 10.99.0.2 failed");
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    UniqueFd conn(accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC));
    CHILD_EXPECT(conn.valid(), "accept failed");
    CHILD_EXPECT(ntohl(peer.sin_addr.s_addr) == Ip("10.99.0.1"), "client address is not the gateway");
    CHILD_EXPECT(write(client.get(), "ping", 4) == 4, "write");
    char buf[8] = {};
    pollfd p{conn.get(), POLLIN, 0};
    CHILD_EXPECT(poll(&p, 1, 5000) == 1 && read(conn.get(), buf, sizeof buf) == 4, "read");
    CHILD_EXPECT(std::string(buf) == "ping", buf);

    // A second veth with the same host name fails and leaves the first.
    auto dup = nl_->CreateVethInNetns("vmoor0", "vmoortmp1", kBridge, ns.get(), "eth1", Ip("10.99.0.3"), 24,
                                      0, 1500);
    CHILD_EXPECT(!dup, "duplicate host name accepted");
    CHILD_EXPECT(CHILD_OK(nl_->LinkExists("vmoor0")), "failed duplicate deleted the original");
    CHILD_EXPECT(!CHILD_OK(nl_->LinkExists("vmoortmp1")), "duplicate's peer left");

    // Deleting the host side removes the container side too.
    CHILD_OK(nl_->DeleteLink("vmoor0"));
    CHILD_EXPECT(!CHILD_OK(nl_->LinkExists("vmoor0")), "still there");
    CHILD_OK(nl_->DeleteLink("vmoor0"));  // absent: ok
    bool eth0_left = true;
    CHILD_OK(InNetns(ns.get(), [&]() -> Result<void> {
      eth0_left = Interface("eth0").exists;
      return {};
    }));
    CHILD_EXPECT(!eth0_left, "eth0 outlived its host side");
    CHILD_OK(RemovePinnedNetns(pin));
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NetlinkTest, FailuresLeaveNoVeth) {
  std::string dir = tmp_ + "/netns";
  auto r = RunInPrivateNetns([&](int out_fd) {
    std::string pin = CHILD_OK(CreatePinnedNetns(dir, "c1"));
    UniqueFd ns = CHILD_OK(OpenNetns(pin));
    // Bridge missing: error naming it, nothing created.
    auto res = nl_->CreateVethInNetns("vmoor0", "vmoortmp0", "nosuchbr0", ns.get(), "eth0", Ip("10.99.0.2"),
                                      24, Ip("10.99.0.1"), 1500);
    CHILD_EXPECT(!res, "missing bridge accepted");
    CHILD_EXPECT(res.error().message().find("nosuchbr0") != std::string::npos, res.error().message());
    CHILD_EXPECT(CHILD_OK(nl_->LinksWithPrefix("vmoor")).empty(), "veth left behind");

    // Failing after the pair exists (not a namespace fd): the pair is deleted.
    CHILD_OK(nl_->EnsureBridge(kBridge, Ip("10.99.0.1"), 24, 1500));
    UniqueFd not_ns(open("/dev/null", O_RDONLY | O_CLOEXEC));
    res = nl_->CreateVethInNetns("vmoor0", "vmoortmp0", kBridge, not_ns.get(), "eth0", Ip("10.99.0.2"), 24,
                                 Ip("10.99.0.1"), 1500);
    CHILD_EXPECT(!res, "non-namespace fd accepted");
    CHILD_EXPECT(CHILD_OK(nl_->LinksWithPrefix("vmoor")).empty(), "veth left after a failed move");

    // Failing inside the namespace (gateway off-subnet): the pair is deleted
    // from both sides.
    res = nl_->CreateVethInNetns("vmoor0", "vmoortmp0", kBridge, ns.get(), "eth0", Ip("10.99.0.2"), 24,
                                 Ip("10.50.0.1"), 1500);
    CHILD_EXPECT(!res, "unreachable gateway accepted");
    CHILD_EXPECT(CHILD_OK(nl_->LinksWithPrefix("vmoor")).empty(), "veth left after a failed route");
    bool eth0_left = true;
    CHILD_OK(InNetns(ns.get(), [&]() -> Result<void> {
      eth0_left = Interface("eth0").exists;
      return {};
    }));
    CHILD_EXPECT(!eth0_left, "eth0 left in the container namespace");
    CHILD_OK(RemovePinnedNetns(pin));
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(NetlinkTest, LinksWithPrefixAndDelete) {
  auto r = RunInPrivateNetns([&](int out_fd) {
    CHILD_OK(nl_->EnsureBridge("moorta", Ip("10.98.0.1"), 24, 0));
    CHILD_OK(nl_->EnsureBridge("moortb", Ip("10.97.0.1"), 24, 0));
    CHILD_OK(nl_->EnsureBridge("othermoor", Ip("10.96.0.1"), 24, 0));
    auto names = CHILD_OK(nl_->LinksWithPrefix("moort"));
    std::sort(names.begin(), names.end());
    CHILD_EXPECT((names == std::vector<std::string>{"moorta", "moortb"}), Join(names, ","));
    CHILD_EXPECT(CHILD_OK(nl_->LinksWithPrefix("zz")).empty(), "unexpected match");
    CHILD_OK(nl_->DeleteLink("moorta"));
    names = CHILD_OK(nl_->LinksWithPrefix("moort"));
    CHILD_EXPECT(names == std::vector<std::string>{"moortb"}, Join(names, ","));
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.out;
}

}  // namespace
}  // namespace moor::net
