// moor dns query NAME [TYPE] [--server IP:PORT] [--tcp]: asks moor's DNS
// server (by default the first address the daemon reports in
// /discovery/info) and prints the answer records like `dig +noall +answer`.
// UDP first, TCP when the reply is truncated or --tcp is given.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "cli/daemon_client.h"
#include "discovery/dns_ldns.h"

namespace moor::cli {

namespace {

using discovery::PktPtr;

Result<std::pair<sockaddr_storage, socklen_t>> ParseServer(const std::string& s) {
  std::string host = s, port = "53";
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) return FailInvalid("dns query: bad --server \"" + s + "\"");
    host = s.substr(1, close - 1);
    if (close + 2 < s.size() && s[close + 1] == ':') port = s.substr(close + 2);
  } else if (auto c = s.rfind(':'); c != std::string::npos && s.find(':') == c) {
    host = s.substr(0, c);
    port = s.substr(c + 1);
  }
  int p = std::atoi(port.c_str());
  if (p <= 0 || p > 65535) return FailInvalid("dns query: bad port in \"" + s + "\"");
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
    return std::pair{ss, socklen_t(sizeof *v4)};
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
    return std::pair{ss, socklen_t(sizeof *v6)};
  }
  return FailInvalid("dns query: \"" + s + "\" is not IP:PORT");
}

// The daemon's DNS address: the first of /discovery/info's DnsAddresses.
Result<std::string> DefaultServer(const Globals& g) {
  auto d = TRY(Daemon::Connect(g));
  auto info = TRY(d.GetJson("/discovery/info"));
  auto& addrs = info["DnsAddresses"];
  if (!addrs.is_array() || addrs.empty() || !addrs[0].is_string())
    return FailInvalid("dns query: the daemon serves no DNS (started with --dns-addr none?); use --server IP:PORT");
  return addrs[0].get<std::string>();
}

Result<PktPtr> Exchange(ldns_pkt* query, const sockaddr_storage& to, socklen_t len, bool tcp,
                        const std::string& server) {
  ldns_buffer* qbin = ldns_buffer_new(512);
  if (ldns_pkt2buffer_wire(qbin, query) != LDNS_STATUS_OK) {
    ldns_buffer_free(qbin);
    return FailInvalid("dns query: cannot encode the query");
  }
  timeval timeout{3, 0};
  uint8_t* answer = nullptr;
  size_t n = 0;
  ldns_status st = tcp ? ldns_tcp_send(&answer, qbin, &to, len, timeout, &n)
                       : ldns_udp_send(&answer, qbin, &to, len, timeout, &n);
  ldns_buffer_free(qbin);
  if (st != LDNS_STATUS_OK) {
    free(answer);  // NOLINT: ldns' allocation
    return FailInvalid("dns query: no answer from " + server + " over " + (tcp ? "TCP" : "UDP") + " (" +
                       ldns_get_errorstr_by_id(st) + "); is the daemon's DNS server running?");
  }
  ldns_pkt* p = nullptr;
  st = ldns_wire2pkt(&p, answer, n);
  free(answer);  // NOLINT
  if (st != LDNS_STATUS_OK) return FailInvalid("dns query: unreadable answer from " + server);
  return PktPtr(p);
}

}  // namespace

Result<int> CmdDnsQuery(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"server", "", true, false}, {"tcp", "", false, false}}));
  if (a.positional.empty() || a.positional.size() > 2)
    return FailInvalid("dns query: usage: moor dns query NAME [TYPE] [--server IP:PORT] [--tcp]");
  std::string name = a.positional[0];
  std::string type_name = a.positional.size() > 1 ? a.positional[1] : "A";
  for (char& c : type_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ldns_rr_type type = ldns_get_rr_type_by_name(type_name.c_str());
  if (type == 0) return FailInvalid("dns query: unknown record type \"" + type_name + "\"");
  std::string server = a.Has("server") ? a.Get("server") : TRY(DefaultServer(g));
  auto [addr, len] = TRY(ParseServer(server));

  ldns_rdf* qname = ldns_dname_new_frm_str(name.c_str());
  if (!qname) return FailInvalid("dns query: \"" + name + "\" is not a valid name");
  PktPtr q(ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, LDNS_RD));
  ldns_pkt_set_id(q.get(), static_cast<uint16_t>(std::random_device{}()));
  ldns_pkt_set_edns_udp_size(q.get(), 1232);

  bool tcp = a.Bool("tcp");
  PktPtr r = TRY(Exchange(q.get(), addr, len, tcp, server));
  if (!tcp && ldns_pkt_tc(r.get())) r = TRY(Exchange(q.get(), addr, len, true, server));

  ldns_pkt_rcode rc = ldns_pkt_get_rcode(r.get());
  if (rc == LDNS_RCODE_NXDOMAIN) return FailInvalid("dns query: " + name + ": no such name (NXDOMAIN)");
  if (rc != LDNS_RCODE_NOERROR) {
    char* s = ldns_pkt_rcode2str(rc);
    std::string msg = "dns query: " + name + ": the server answered " + (s ? s : "an error") +
                      (rc == LDNS_RCODE_SERVFAIL ? " (its upstream resolvers failed?)" : "");
    free(s);  // NOLINT
    return FailInvalid(msg);
  }
  std::string out;
  const ldns_rr_list* ans = ldns_pkt_answer(r.get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(ans); ++i) {
    char* s = ldns_rr2str(ldns_rr_list_rr(ans, i));
    if (s) out += s;  // "owner.\tTTL\tIN\tTYPE\trdata\n", as dig prints it
    free(s);          // NOLINT
  }
  Out(out);
  return 0;
}

}  // namespace moor::cli
