// The DNS server on loopback, queried by the real `dig`; forwarding to the
// test's own dnsmasq on loopback.
#include "discovery/dns_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <sstream>

namespace moor::discovery {
namespace {

int FreePort() {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t l = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &l);
  close(s);
  return ntohs(a.sin_port);
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

CheckDef Check(const std::string& id, Health h) {
  CheckDef d;
  d.id = id;
  d.name = id;
  d.type = "ttl";
  d.ttl_ns = 600'000'000'000;
  d.initial = h;
  return d;
}

class DnsServerTest : public ::testing::Test {
 protected:
  DnsServerTest() : cat_(Node{"id1", "node1", "10.0.0.1", "dc1", {}}) {}

  void SetUp() override {
    if (system("command -v dig >/dev/null 2>&1") != 0) GTEST_SKIP() << "dig (dnsutils) is not installed";
    Add("w1", "web", "10.0.0.2", 80, {"v1"}, Health::kPassing);
    Add("w2", "web", "10.0.0.3", 81, {"v2"}, Health::kWarning);
    Add("w3", "web", "10.0.0.4", 82, {"v1"}, Health::kCritical);
    for (int i = 0; i < 60; ++i)
      Add("m" + std::to_string(i), "many", "10.1.0." + std::to_string(i), 80, {}, Health::kPassing);
    cat_.SetContainer({"c1", "db", "10.0.0.9"});
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (dnsmasq_ > 0) {
      kill(dnsmasq_, SIGTERM);
      waitpid(dnsmasq_, nullptr, 0);
    }
  }

  void Add(const std::string& id, const std::string& name, const std::string& ip, int port,
           std::vector<std::string> tags, Health h) {
    ServiceInstance s;
    s.id = id;
    s.name = name;
    s.address = ip;
    s.port = port;
    s.tags = std::move(tags);
    ASSERT_TRUE(cat_.Register(s, {Check("service:" + id, h)}).has_value());
  }

  void StartServer(std::vector<std::string> upstreams = {}) {
    port_ = FreePort();
    DnsOptions o;
    o.listen = {"127.0.0.1:" + std::to_string(port_)};
    o.upstreams = std::move(upstreams);
    o.forward_timeout_ms = 300;
    server_ = std::make_unique<DnsServer>(cat_, o);
    auto r = server_->Start();
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }

  // dig against the server; `opts` like "+short" or "+tcp".
  std::string Dig(const std::string& args) {
    return Shell("dig @127.0.0.1 -p " + std::to_string(port_) + " +time=5 +tries=1 " + args + " 2>&1");
  }

  Catalog cat_;
  std::unique_ptr<DnsServer> server_;
  int port_ = 0;
  pid_t dnsmasq_ = -1;
};

TEST_F(DnsServerTest, AnswersFromTheCatalog) {
  StartServer();
  auto a = Lines(Dig("+short web.service.moor A"));
  EXPECT_EQ(std::set<std::string>(a.begin(), a.end()), (std::set<std::string>{"10.0.0.2", "10.0.0.3"}));
  // Shuffled across queries.
  std::set<std::string> firsts;
  for (int i = 0; i < 20 && firsts.size() < 2; ++i) firsts.insert(Lines(Dig("+short web.service.moor"))[0]);
  EXPECT_EQ(firsts.size(), 2u);

  std::string srv = Dig("+noall +answer +additional web.service.moor SRV");
  EXPECT_NE(srv.find("SRV\t1 1 80 0a000002.addr.moor."), std::string::npos) << srv;
  EXPECT_NE(srv.find("0a000003.addr.moor.\t0\tIN\tA\t10.0.0.3"), std::string::npos) << srv;

  EXPECT_EQ(Lines(Dig("+short v1.web.service.moor")), (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(Lines(Dig("+short _web._tcp.service.moor SRV")).size(), 2u);
  EXPECT_EQ(Lines(Dig("+short DB.container.moor")), (std::vector<std::string>{"10.0.0.9"}));
  EXPECT_EQ(Lines(Dig("+short -x 10.0.0.9")), (std::vector<std::string>{"db.container.moor."}));

  std::string nx = Dig("nope.service.moor");
  EXPECT_NE(nx.find("status: NXDOMAIN"), std::string::npos) << nx;
  EXPECT_NE(nx.find("flags: qr aa rd ra"), std::string::npos) << nx;
  EXPECT_NE(nx.find("IN\tSOA\tns.moor. hostmaster.moor."), std::string::npos) << nx;

  std::string nodata = Dig("web.service.moor AAAA");
  EXPECT_NE(nodata.find("status: NOERROR"), std::string::npos) << nodata;
  EXPECT_NE(nodata.find("ANSWER: 0, AUTHORITY: 1"), std::string::npos) << nodata;

  auto st = server_->stats();
  EXPECT_GE(st.queries, 10u);
  EXPECT_GE(st.nxdomain, 1u);
}

TEST_F(DnsServerTest, CatalogChangesAreSeen) {
  StartServer();
  EXPECT_EQ(Lines(Dig("+short web.service.moor")).size(), 2u);
  ASSERT_TRUE(cat_.UpdateCheck("service:w3", Health::kPassing, "ok").has_value());
  EXPECT_EQ(Lines(Dig("+short web.service.moor")).size(), 3u);
}

TEST_F(DnsServerTest, TcpAndTruncation) {
  StartServer();
  EXPECT_EQ(Lines(Dig("+tcp +short many.service.moor")).size(), 60u);
  // Several queries on one TCP connection.
  std::string two = Dig("+tcp +keepopen +short web.service.moor node1.node.moor");
  EXPECT_EQ(Lines(two).size(), 3u) << two;
  std::string t = Dig("+ignore +noedns many.service.moor");
  EXPECT_NE(t.find("flags: qr aa tc rd ra"), std::string::npos) << t;
  EXPECT_EQ(server_->stats().truncated, 1u);
  // dig retries over TCP by itself and gets everything.
  EXPECT_EQ(Lines(Dig("+noedns +short many.service.moor")).size(), 60u);
  // EDNS: the client's size is honoured.
  EXPECT_EQ(Lines(Dig("+bufsize=4096 +ignore +short many.service.moor")).size(), 60u);
}

TEST_F(DnsServerTest, ForwardsToUpstream) {
  if (system("command -v dnsmasq >/dev/null 2>&1") != 0) GTEST_SKIP() << "dnsmasq is not installed";
  int up = FreePort();
  dnsmasq_ = fork();
  if (dnsmasq_ == 0) {
    int null_fd = open("/dev/null", O_WRONLY);  // keep its log out of the test output
    dup2(null_fd, 2);
    std::string port = "--port=" + std::to_string(up);
    execlp("dnsmasq", "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", port.c_str(),
           "--listen-address=127.0.0.1", "--bind-interfaces", "--address=/upstream.test/192.0.2.7",
           "--user=root", "--pid-file=", nullptr);
    _exit(127);
  }
  StartServer({"127.0.0.1:" + std::to_string(up)});
  std::string a;
  for (int i = 0; i < 50; ++i) {  // until dnsmasq listens
    a = Dig("+short upstream.test");
    if (a.find("192.0.2.7") != std::string::npos) break;
    usleep(100'000);
  }
  EXPECT_EQ(Lines(a), (std::vector<std::string>{"192.0.2.7"}));
  EXPECT_EQ(Lines(Dig("+tcp +short upstream.test")), (std::vector<std::string>{"192.0.2.7"}));
  EXPECT_GE(server_->stats().forwarded, 2u);

  kill(dnsmasq_, SIGTERM);
  waitpid(dnsmasq_, nullptr, 0);
  dnsmasq_ = -1;
  std::string f = Dig("upstream.test");
  EXPECT_NE(f.find("status: SERVFAIL"), std::string::npos) << f;
  std::string ft = Dig("+tcp upstream.test");
  EXPECT_NE(ft.find("status: SERVFAIL"), std::string::npos) << ft;
  EXPECT_GE(server_->stats().forward_failures, 2u);
}

TEST_F(DnsServerTest, NoUpstreamIsServfail) {
  StartServer();
  std::string f = Dig("example.invalid");
  EXPECT_NE(f.find("status: SERVFAIL"), std::string::npos) << f;
}

TEST_F(DnsServerTest, AddressInUseNamesIt) {
  StartServer();
  DnsOptions o;
  o.listen = {"127.0.0.1:" + std::to_string(port_)};
  DnsServer second(cat_, o);
  auto r = second.Start();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("already in use"), std::string::npos);
}

}  // namespace
}  // namespace moor::discovery
