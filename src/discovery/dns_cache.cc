// Fast path and cached replies (see dns_cache.h).
#include "discovery/dns_cache.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <numeric>

namespace moor::discovery {

namespace {

constexpr size_t kHeader = 12;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void Put16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

std::string RrWire(const ldns_rr* rr, int section) {
  std::string out;
  ldns_buffer* b = ldns_buffer_new(256);
  if (ldns_rr2buffer_wire(b, rr, section) == LDNS_STATUS_OK)
    out.assign(reinterpret_cast<const char*>(ldns_buffer_begin(b)), ldns_buffer_position(b));
  ldns_buffer_free(b);
  return out;
}

// Our OPT record (EDNS0, UDP size 4096, no options), encoded by ldns once.
const std::string& OptRecord() {
  static const std::string opt = [] {
    PktPtr p(ldns_pkt_new());
    ldns_pkt_set_edns_udp_size(p.get(), 4096);
    uint8_t* wire = nullptr;
    size_t n = 0;
    std::string s;
    if (ldns_pkt2wire(&wire, p.get(), &n) == LDNS_STATUS_OK && n > kHeader)
      s.assign(reinterpret_cast<const char*>(wire) + kHeader, n - kHeader);
    free(wire);  // NOLINT: allocated by ldns
    return s;
  }();
  return opt;
}

}  // namespace

std::optional<SimpleQuery> ParseSimpleQuery(const uint8_t* q, size_t n) {
  if (n < kHeader + 5) return std::nullopt;
  // QR=0, opcode QUERY; one question; no answers/authority; ≤ 1 additional.
  if ((q[2] & 0xf8) != 0 || Get16(q + 4) != 1 || Get16(q + 6) != 0 || Get16(q + 8) != 0) return std::nullopt;
  uint16_t arcount = Get16(q + 10);
  if (arcount > 1) return std::nullopt;
  SimpleQuery sq;
  size_t i = kHeader;
  sq.key.reserve(64);
  for (;;) {  // the name: plain labels only (a question has no pointers)
    if (i >= n) return std::nullopt;
    uint8_t len = q[i];
    if (len > 63) return std::nullopt;
    sq.key.push_back(static_cast<char>(len));
    ++i;
    if (len == 0) break;
    if (i + len > n || sq.key.size() + len > 255) return std::nullopt;
    for (size_t j = 0; j < len; ++j)
      sq.key.push_back(static_cast<char>(std::tolower(q[i + j])));
    i += len;
  }
  if (i + 4 > n) return std::nullopt;
  sq.key.append(reinterpret_cast<const char*>(q + i), 4);  // type, class
  i += 4;
  sq.question_end = i;
  if (arcount == 1) {  // must be an OPT record owned by the root
    if (i + 11 > n || q[i] != 0 || Get16(q + i + 1) != LDNS_RR_TYPE_OPT) return std::nullopt;
    sq.edns = true;
    sq.udp_size = std::max<uint16_t>(512, Get16(q + i + 3));
    size_t rdlen = Get16(q + i + 9);
    i += 11 + rdlen;
  }
  if (i != n) return std::nullopt;
  return sq;
}

CachedAnswer MakeCachedAnswer(const DnsAnswer& a, uint64_t index) {
  CachedAnswer c;
  c.index = index;
  c.forward = a.forward;
  if (a.forward || !a.response) return c;
  ldns_pkt* p = a.response.get();
  c.shuffle = a.shuffle;
  uint8_t* wire = nullptr;
  size_t n = 0;
  if (ldns_pkt2wire(&wire, p, &n) == LDNS_STATUS_OK && n >= kHeader) std::memcpy(c.header, wire + 2, 2);
  free(wire);  // NOLINT: allocated by ldns

  const ldns_rr_list* add = ldns_pkt_additional(p);
  std::vector<bool> paired(ldns_rr_list_rr_count(add), false);
  const ldns_rr_list* ans = ldns_pkt_answer(p);
  for (size_t i = 0; i < ldns_rr_list_rr_count(ans); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(ans, i);
    CachedAnswer::Record rec{RrWire(rr, LDNS_SECTION_ANSWER), ""};
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SRV && ldns_rr_rd_count(rr) == 4) {
      for (size_t j = 0; j < paired.size(); ++j) {
        const ldns_rr* x = ldns_rr_list_rr(add, j);
        if (ldns_dname_compare(ldns_rr_owner(x), ldns_rr_rdf(rr, 3)) == 0) {
          rec.extra = RrWire(x, LDNS_SECTION_ADDITIONAL);
          paired[j] = true;
          break;
        }
      }
    }
    c.answers.push_back(std::move(rec));
  }
  const ldns_rr_list* auth = ldns_pkt_authority(p);
  for (size_t i = 0; i < ldns_rr_list_rr_count(auth); ++i)
    c.authority.push_back(RrWire(ldns_rr_list_rr(auth, i), LDNS_SECTION_AUTHORITY));
  for (size_t j = 0; j < paired.size(); ++j)
    if (!paired[j]) c.additional.push_back(RrWire(ldns_rr_list_rr(add, j), LDNS_SECTION_ADDITIONAL));
  return c;
}

AssembleResult Assemble(const CachedAnswer& a, const uint8_t* query, const SimpleQuery& sq, uint8_t* out,
                        size_t limit, std::minstd_rand& rng) {
  AssembleResult r;
  const std::string& opt = OptRecord();
  const size_t reserve = sq.edns ? opt.size() : 0;
  if (sq.question_end + reserve > limit) return r;
  std::memcpy(out, query, sq.question_end);  // ID and the client's own question
  out[2] = static_cast<uint8_t>((a.header[0] & ~0x03) | (query[2] & 0x01));  // RD from the query
  out[3] = static_cast<uint8_t>((a.header[1] & ~0x10) | (query[3] & 0x10));  // CD from the query
  size_t pos = sq.question_end;
  const size_t end = limit - reserve;
  auto fits = [&](const std::string& s) { return pos + s.size() <= end; };
  auto put = [&](const std::string& s) {
    std::memcpy(out + pos, s.data(), s.size());
    pos += s.size();
  };

  // Answers, in a fresh random order when they form a set: a partial
  // Fisher-Yates over indexes, stopping when the packet is full.
  size_t n = a.answers.size();
  uint16_t order_small[64];
  // Sized at construction: resize() trips g++ 12's -Wnull-dereference at -O3.
  std::vector<uint32_t> order_big(n > 64 ? n : 0);
  auto idx = [&](size_t i) -> size_t { return n <= 64 ? order_small[i] : order_big[i]; };
  auto swap = [&](size_t i, size_t j) {
    if (n <= 64) {
      std::swap(order_small[i], order_small[j]);
    } else {
      std::swap(order_big[i], order_big[j]);
    }
  };
  if (n <= 64) {
    std::iota(order_small, order_small + n, uint16_t{0});
  } else {  // rare: a service with very many instances
    std::iota(order_big.begin(), order_big.end(), 0u);
  }

  size_t an = 0;
  std::vector<const std::string*> extras;
  for (size_t i = 0; i < n; ++i) {
    if (a.shuffle && n - i > 1) swap(i, i + rng() % (n - i));
    const auto& rec = a.answers[idx(i)];
    if (!fits(rec.rr)) {
      r.truncated = true;
      break;
    }
    put(rec.rr);
    ++an;
    if (!rec.extra.empty()) extras.push_back(&rec.extra);
  }
  size_t ns = 0, ar = 0;
  if (!r.truncated) {
    for (auto& s : a.authority) {
      if (!fits(s)) {
        r.truncated = true;
        break;
      }
      put(s);
      ++ns;
    }
  }
  if (!r.truncated) {  // additional data is optional: skip what does not fit
    for (size_t k = 0; k < extras.size(); ++k) {
      bool dup = false;
      for (size_t j = 0; j < k && !dup; ++j) dup = *extras[j] == *extras[k];
      if (!dup && fits(*extras[k])) {
        put(*extras[k]);
        ++ar;
      }
    }
    for (auto& s : a.additional)
      if (fits(s)) {
        put(s);
        ++ar;
      }
  }
  if (sq.edns) {
    std::memcpy(out + pos, opt.data(), opt.size());
    pos += opt.size();
    ++ar;
  }
  if (r.truncated) out[2] |= 0x02;
  Put16(out + 4, 1);
  Put16(out + 6, an);
  Put16(out + 8, ns);
  Put16(out + 10, ar);
  r.size = pos;
  return r;
}

size_t EncodePacket(ldns_pkt* p, uint8_t* out, size_t limit, bool* truncated) {
  *truncated = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint8_t* wire = nullptr;
    size_t n = 0;
    if (ldns_pkt2wire(&wire, p, &n) != LDNS_STATUS_OK) {
      free(wire);  // NOLINT: allocated by ldns
      return 0;
    }
    if (n <= limit) {
      std::memcpy(out, wire, n);
      free(wire);  // NOLINT
      return n;
    }
    free(wire);  // NOLINT
    // Too big: keep only the question and say so.
    ldns_rr_list_deep_free(ldns_pkt_answer(p));
    ldns_rr_list_deep_free(ldns_pkt_authority(p));
    ldns_rr_list_deep_free(ldns_pkt_additional(p));
    ldns_pkt_set_answer(p, ldns_rr_list_new());
    ldns_pkt_set_authority(p, ldns_rr_list_new());
    ldns_pkt_set_additional(p, ldns_rr_list_new());
    ldns_pkt_set_ancount(p, 0);
    ldns_pkt_set_nscount(p, 0);
    ldns_pkt_set_arcount(p, 0);
    ldns_pkt_set_tc(p, true);
    *truncated = true;
  }
  return 0;
}

}  // namespace moor::discovery
