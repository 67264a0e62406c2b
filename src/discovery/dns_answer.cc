// Question → response from the catalog (see dns_answer.h). Records are
// built with ldns from typed fields, never from text, so odd labels in a
// query cannot be misread.
#include "discovery/dns_answer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

namespace moor::discovery {

namespace {

// The question's labels, lower-cased, without the root label.
std::vector<std::string> Labels(const ldns_rdf* name) {
  std::vector<std::string> out;
  uint8_t n = ldns_dname_label_count(name);
  for (uint8_t i = 0; i < n; ++i) {
    ldns_rdf* l = ldns_dname_label(name, i);
    if (!l) break;
    const uint8_t* d = ldns_rdf_data(l);
    std::string s(reinterpret_cast<const char*>(d + 1), d[0]);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::move(s));
    ldns_rdf_deep_free(l);
  }
  return out;
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto dot = s.find('.');
    std::string l(s.substr(0, dot));
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!l.empty()) out.push_back(std::move(l));
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return out;
}

ldns_rdf* Dname(const std::string& text) { return ldns_dname_new_frm_str(text.c_str()); }

// An RR with owner (taken), type, class IN and ttl; rdata pushed by the caller.
ldns_rr* NewRr(ldns_rdf* owner, ldns_rr_type type, uint32_t ttl) {
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, owner);
  ldns_rr_set_type(rr, type);
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, ttl);
  return rr;
}

// An A record, or nullptr when `ip` is not IPv4.
ldns_rr* ARecord(ldns_rdf* owner, const std::string& ip, uint32_t ttl) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) {
    ldns_rdf_deep_free(owner);
    return nullptr;
  }
  ldns_rr* rr = NewRr(owner, LDNS_RR_TYPE_A, ttl);
  ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &a));
  return rr;
}

// "10.0.0.7" → "0a000007" (Consul's .addr. form); "" if not IPv4.
std::string HexAddr(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return "";
  auto* b = reinterpret_cast<const uint8_t*>(&a);
  char buf[9];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
  return buf;
}

std::optional<std::string> IpFromHex(const std::string& hex) {
  if (hex.size() != 8) return std::nullopt;
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) {
    unsigned v = 0;
    for (int j = 0; j < 2; ++j) {
      char c = hex[i * 2 + j];
      if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
      v = v * 16 + (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10);
    }
    b[i] = static_cast<uint8_t>(v);
  }
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, b, buf, sizeof buf);
  return std::string(buf);
}

bool IsIpv4Label(const std::string& l) {
  if (l.empty() || l.size() > 3) return false;
  for (char c : l)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return std::stoi(l) <= 255;
}

class Responder {
 public:
  Responder(const Catalog& c, const DnsZone& z, const ldns_pkt* q, std::mt19937& rng)
      : cat_(c), zone_(z), query_(q), rng_(rng) {}

  DnsAnswer Run() {
    if (ldns_pkt_get_opcode(query_) != LDNS_PACKET_QUERY) return Error(LDNS_RCODE_NOTIMPL);
    if (ldns_pkt_qdcount(query_) != 1 || ldns_rr_list_rr_count(ldns_pkt_question(query_)) != 1)
      return Error(LDNS_RCODE_FORMERR);
    const ldns_rr* q = ldns_rr_list_rr(ldns_pkt_question(query_), 0);
    qname_ = ldns_rr_owner(q);
    qtype_ = ldns_rr_get_type(q);
    ldns_rr_class cls = ldns_rr_get_class(q);
    labels_ = Labels(qname_);
    domain_ = Split(zone_.domain);

    if (InDomain()) {
      if (cls != LDNS_RR_CLASS_IN && cls != LDNS_RR_CLASS_ANY) return Error(LDNS_RCODE_REFUSED);
      return Own();
    }
    if (auto r = Reverse()) return std::move(*r);
    DnsAnswer a;
    a.forward = true;
    return a;
  }

 private:
  bool InDomain() const {
    if (labels_.size() < domain_.size()) return false;
    return std::equal(domain_.rbegin(), domain_.rend(), labels_.rbegin());
  }

  DnsAnswer Error(ldns_pkt_rcode rc) {
    DnsAnswer a;
    a.response = ErrorResponse(query_, rc);
    return a;
  }

  PktPtr NewResponse(ldns_pkt_rcode rc) {
    PktPtr p(ErrorResponse(query_, rc));
    ldns_pkt_set_aa(p.get(), true);
    return p;
  }

  bool Wants(ldns_rr_type t) const { return qtype_ == t || qtype_ == LDNS_RR_TYPE_ANY; }

  ldns_rr* Soa() const {
    std::string d = zone_.domain + ".";
    ldns_rr* rr = NewRr(Dname(d), LDNS_RR_TYPE_SOA, zone_.service_ttl);
    ldns_rr_push_rdf(rr, Dname("ns." + d));
    ldns_rr_push_rdf(rr, Dname("hostmaster." + d));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, static_cast<uint32_t>(cat_.Index())));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 3600));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 600));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 86400));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, zone_.service_ttl));
    return rr;
  }

  DnsAnswer Negative(ldns_pkt_rcode rc) {
    DnsAnswer a;
    a.response = NewResponse(rc);
    ldns_pkt_push_rr(a.response.get(), LDNS_SECTION_AUTHORITY, Soa());
    return a;
  }

  // Answers with `rrs` (owned); no records → NOERROR/NODATA with the SOA.
  DnsAnswer Records(std::vector<ldns_rr*> answers, std::vector<ldns_rr*> additional = {}, bool shuffle = false) {
    if (answers.empty()) {
      for (ldns_rr* rr : additional) ldns_rr_free(rr);
      return Negative(LDNS_RCODE_NOERROR);
    }
    DnsAnswer a;
    a.shuffle = shuffle;
    a.response = NewResponse(LDNS_RCODE_NOERROR);
    for (ldns_rr* rr : answers) ldns_pkt_push_rr(a.response.get(), LDNS_SECTION_ANSWER, rr);
    for (ldns_rr* rr : additional) ldns_pkt_push_rr(a.response.get(), LDNS_SECTION_ADDITIONAL, rr);
    return a;
  }

  DnsAnswer Own() {
    // Labels below the domain, innermost first.
    std::vector<std::string> rel(labels_.begin(), labels_.end() - static_cast<long>(domain_.size()));
    if (rel.empty()) {  // the apex itself
      if (Wants(LDNS_RR_TYPE_SOA)) return Records({Soa()});
      return Negative(LDNS_RCODE_NOERROR);
    }
    const std::string& kind = rel.back();
    rel.pop_back();
    if (kind == "service") return Service(rel);
    if (rel.size() != 1) return Negative(LDNS_RCODE_NXDOMAIN);
    if (kind == "container") {
      auto c = cat_.ContainerByName(rel[0]);
      if (!c) return Negative(LDNS_RCODE_NXDOMAIN);
      return Address(c->ip, zone_.container_ttl);
    }
    if (kind == "node") {
      std::string node = cat_.node().name;
      for (char& ch : node) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (rel[0] != node) return Negative(LDNS_RCODE_NXDOMAIN);
      return Address(cat_.node().address, zone_.service_ttl);
    }
    if (kind == "addr") {
      auto ip = IpFromHex(rel[0]);
      if (!ip) return Negative(LDNS_RCODE_NXDOMAIN);
      return Address(*ip, zone_.service_ttl);
    }
    return Negative(LDNS_RCODE_NXDOMAIN);
  }

  DnsAnswer Address(const std::string& ip, uint32_t ttl) {
    std::vector<ldns_rr*> rrs;
    if (Wants(LDNS_RR_TYPE_A))
      if (ldns_rr* rr = ARecord(ldns_rdf_clone(qname_), ip, ttl)) rrs.push_back(rr);
    return Records(std::move(rrs));
  }

  // rel: labels before "service", innermost first: [NAME], [TAG, NAME] or [_NAME, _TAG].
  DnsAnswer Service(const std::vector<std::string>& rel) {
    std::string name, tag;
    if (rel.size() == 1) {
      name = rel[0];
    } else if (rel.size() == 2 && rel[0].starts_with('_') && rel[1].starts_with('_')) {
      name = rel[0].substr(1);
      tag = rel[1].substr(1);
      if (tag == "tcp") tag.clear();
    } else if (rel.size() == 2) {
      tag = rel[0];
      name = rel[1];
    } else {
      return Negative(LDNS_RCODE_NXDOMAIN);
    }
    auto inst = cat_.Usable(name, tag);
    // Consul's behaviour: a service without a usable instance does not exist.
    if (inst.empty() || name.empty()) return Negative(LDNS_RCODE_NXDOMAIN);
    std::shuffle(inst.begin(), inst.end(), rng_);

    std::vector<ldns_rr*> answers, additional;
    const std::string dom = "." + zone_.domain + ".";
    for (auto& i : inst) {
      std::string ip = i.address.empty() ? cat_.node().address : i.address;
      if (Wants(LDNS_RR_TYPE_A)) {
        if (ldns_rr* rr = ARecord(ldns_rdf_clone(qname_), ip, zone_.service_ttl)) answers.push_back(rr);
      }
      if (Wants(LDNS_RR_TYPE_SRV)) {
        std::string target;
        if (!i.container_name.empty() && cat_.ContainerByName(i.container_name))
          target = i.container_name + ".container" + dom;
        else if (auto hex = HexAddr(ip); !hex.empty())
          target = hex + ".addr" + dom;
        else
          continue;
        ldns_rdf* t = Dname(target);
        if (!t) continue;
        ldns_rr* srv = NewRr(ldns_rdf_clone(qname_), LDNS_RR_TYPE_SRV, zone_.service_ttl);
        ldns_rr_push_rdf(srv, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 1));
        ldns_rr_push_rdf(srv, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 1));
        ldns_rr_push_rdf(srv, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, static_cast<uint16_t>(i.port)));
        ldns_rr_push_rdf(srv, ldns_rdf_clone(t));
        answers.push_back(srv);
        bool seen = false;
        for (ldns_rr* a : additional) seen = seen || ldns_dname_compare(ldns_rr_owner(a), t) == 0;
        if (ldns_rr* a = seen ? nullptr : ARecord(ldns_rdf_clone(t), ip, zone_.service_ttl))
          additional.push_back(a);
        ldns_rdf_deep_free(t);
      }
    }
    return Records(std::move(answers), std::move(additional), /*shuffle=*/true);
  }

  // d.c.b.a.in-addr.arpa PTR of a container's address; nullopt = not ours.
  std::optional<DnsAnswer> Reverse() {
    if (labels_.size() != 6 || labels_[4] != "in-addr" || labels_[5] != "arpa") return std::nullopt;
    for (int i = 0; i < 4; ++i)
      if (!IsIpv4Label(labels_[i])) return std::nullopt;
    std::string ip = labels_[3] + "." + labels_[2] + "." + labels_[1] + "." + labels_[0];
    auto c = cat_.ContainerByIp(ip);
    if (!c) return std::nullopt;
    std::vector<ldns_rr*> rrs;
    if (Wants(LDNS_RR_TYPE_PTR)) {
      ldns_rdf* target = Dname(c->name + ".container." + zone_.domain + ".");
      if (target) {
        ldns_rr* rr = NewRr(ldns_rdf_clone(qname_), LDNS_RR_TYPE_PTR, zone_.container_ttl);
        ldns_rr_push_rdf(rr, target);
        rrs.push_back(rr);
      }
    }
    if (rrs.empty()) {  // the name exists (it is ours), nothing of this type
      DnsAnswer a;
      a.response = NewResponse(LDNS_RCODE_NOERROR);
      return a;
    }
    return Records(std::move(rrs));
  }

  const Catalog& cat_;
  const DnsZone& zone_;
  const ldns_pkt* query_;
  std::mt19937& rng_;
  const ldns_rdf* qname_ = nullptr;
  ldns_rr_type qtype_ = LDNS_RR_TYPE_A;
  std::vector<std::string> labels_, domain_;
};

}  // namespace

PktPtr ErrorResponse(const ldns_pkt* query, ldns_pkt_rcode rcode) {
  PktPtr p(ldns_pkt_new());
  ldns_pkt_set_id(p.get(), ldns_pkt_id(query));
  ldns_pkt_set_qr(p.get(), true);
  ldns_pkt_set_opcode(p.get(), ldns_pkt_get_opcode(query));
  ldns_pkt_set_rd(p.get(), ldns_pkt_rd(query));
  ldns_pkt_set_cd(p.get(), ldns_pkt_cd(query));
  // A resolver that forwards what it does not own: recursion is available.
  ldns_pkt_set_ra(p.get(), true);
  ldns_pkt_set_rcode(p.get(), static_cast<uint8_t>(rcode));
  const ldns_rr_list* qs = ldns_pkt_question(query);
  if (qs && ldns_rr_list_rr_count(qs) == 1)
    ldns_pkt_push_rr(p.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(qs, 0)));
  if (ldns_pkt_edns(query)) ldns_pkt_set_edns_udp_size(p.get(), 4096);
  return p;
}

DnsAnswer Answer(const Catalog& catalog, const DnsZone& zone, const ldns_pkt* query, std::mt19937& rng) {
  return Responder(catalog, zone, query, rng).Run();
}

}  // namespace moor::discovery
