// bench-discovery-latency: how long after a health check passes the instance
// is visible (bench/discovery, part 2), measured in-process so no process
// start-up is counted.
//
//   bench-discovery-latency --sock PATH --dns IP:PORT --service NAME --check ID
//                           --ip IP [--rounds N]
//
// The service NAME (one instance at IP) must exist with the TTL check ID.
// Each round: fail the check and wait until DNS no longer answers; then
//   dns    PUT /v1/agent/check/pass/ID (daemon socket) → the first DNS reply
//          (UDP, re-asked every 1 ms) that holds IP
//   block  the same pass → a blocking GET /v1/health/service/NAME?passing=1&index=N
//          (sent before the pass) returns
// and prints p50/p99 in ms of both and of the pass call itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/http_client.h"
#include "discovery/dns_ldns.h"

namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "bench-discovery-latency: %s\n", m.c_str());
  std::exit(1);
}

class DnsProbe {
 public:
  DnsProbe(const std::string& addr, const std::string& name) {
    auto c = addr.rfind(':');
    if (c == std::string::npos) Die("--dns wants IP:PORT");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(c + 1))));
    if (inet_pton(AF_INET, addr.substr(0, c).c_str(), &a.sin_addr) != 1) Die("--dns wants an IPv4 address");
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Die("cannot reach --dns");
    ldns_pkt* q = ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
    uint8_t* wire = nullptr;
    size_t n = 0;
    if (ldns_pkt2wire(&wire, q, &n) != LDNS_STATUS_OK) Die("cannot encode the query");
    query_.assign(reinterpret_cast<char*>(wire), n);
    free(wire);
    ldns_pkt_free(q);
  }
  ~DnsProbe() { close(fd_); }

  // The A records of one reply ("" entries on timeout).
  std::vector<std::string> Ask(int timeout_ms) {
    std::vector<std::string> out;
    uint8_t buf[4096];
    while (recv(fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {  // stale replies
    }
    if (send(fd_, query_.data(), query_.size(), 0) < 0) return out;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return out;
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    ldns_pkt* r = nullptr;
    if (n <= 0 || ldns_wire2pkt(&r, buf, static_cast<size_t>(n)) != LDNS_STATUS_OK) return out;
    const ldns_rr_list* ans = ldns_pkt_answer(r);
    for (size_t i = 0; i < ldns_rr_list_rr_count(ans); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(ans, i);
      if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_A) continue;
      char* s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
      out.emplace_back(s);
      free(s);
    }
    ldns_pkt_free(r);
    return out;
  }
  bool Sees(const std::string& ip, int timeout_ms) {
    auto a = Ask(timeout_ms);
    return std::find(a.begin(), a.end(), ip) != a.end();
  }

 private:
  int fd_ = -1;
  std::string query_;
};

double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999);
  return v[std::clamp<size_t>(i, 1, v.size()) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a{{"rounds", "20"}};
  for (int i = 1; i + 1 < argc; i += 2) a[std::string(argv[i]).substr(2)] = argv[i + 1];
  for (const char* k : {"sock", "dns", "service", "check", "ip"})
    if (!a.count(k)) Die(std::string("missing --") + k);
  const int rounds = std::stoi(a["rounds"]);
  const std::string ip = a["ip"], check = a["check"], svc = a["service"];
  moor::api::UnixHttpClient http(a["sock"]);
  DnsProbe dns(a["dns"], svc + ".service.moor.");

  auto put = [&](const std::string& what) {
    auto r = http.Do("PUT", "/v1/agent/check/" + what + "/" + check);
    if (!r || r->status != 200) Die("PUT /v1/agent/check/" + what + " failed");
  };
  auto fail_and_wait = [&] {
    put("fail");
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (dns.Sees(ip, 100))
      if (Clock::now() > deadline) Die("the instance stays visible after its check failed");
  };

  std::vector<double> dns_ms, block_ms, pass_ms;
  for (int r = 0; r < rounds; ++r) {
    fail_and_wait();
    auto t0 = Clock::now();
    put("pass");
    pass_ms.push_back(Ms(Clock::now() - t0));
    while (!dns.Sees(ip, 1))
      if (Clock::now() - t0 > std::chrono::seconds(10)) Die("not visible in DNS 10 s after the pass");
    dns_ms.push_back(Ms(Clock::now() - t0));

    fail_and_wait();
    auto cur = http.Do("GET", "/v1/health/service/" + svc + "?passing=1");
    if (!cur || !cur->headers.count("x-consul-index")) Die("no X-Consul-Index from /v1/health/service");
    std::string index = cur->headers.at("x-consul-index");
    Clock::time_point woke;
    bool ok = false;
    std::thread waiter([&] {
      moor::api::UnixHttpClient c(a["sock"]);
      auto resp = c.Do("GET", "/v1/health/service/" + svc + "?passing=1&wait=30s&index=" + index);
      woke = Clock::now();
      ok = resp && resp->status == 200 && resp->body.find(ip) != std::string::npos;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the request is parked by now
    t0 = Clock::now();
    put("pass");
    waiter.join();
    if (!ok) Die("the blocking query returned without the passing instance");
    block_ms.push_back(Ms(woke - t0));
  }
  std::printf("  %-28s p50 %7.2f  p99 %7.2f ms\n", "pass → visible in DNS", Pct(dns_ms, 50), Pct(dns_ms, 99));
  std::printf("  %-28s p50 %7.2f  p99 %7.2f ms\n", "pass → blocking query", Pct(block_ms, 50), Pct(block_ms, 99));
  std::printf("  %-28s p50 %7.2f  p99 %7.2f ms\n", "pass call → its reply", Pct(pass_ms, 50), Pct(pass_ms, 99));
  return 0;
}
