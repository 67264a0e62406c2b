// The DNS responder's answers, from a real catalog, inspected as ldns packets;
// and the fast path's cached replies (shuffle, truncation, ID patching).
#include "discovery/dns_answer.h"

#include <gtest/gtest.h>

#include <set>

#include "discovery/dns_cache.h"

namespace moor::discovery {
namespace {

CheckDef Check(const std::string& id, Health h) {
  CheckDef d;
  d.id = id;
  d.name = id;
  d.type = "ttl";
  d.ttl_ns = 60'000'000'000;
  d.initial = h;
  return d;
}

class DnsAnswerTest : public ::testing::Test {
 protected:
  DnsAnswerTest() : cat_(Node{"id1", "node1", "10.0.0.1", "dc1", {}}) {}

  void SetUp() override {
    Add("w1", "web", "10.0.0.2", 80, {"v1"}, Health::kPassing);
    Add("w2", "web", "10.0.0.3", 81, {"v2"}, Health::kWarning);
    Add("w3", "web", "10.0.0.4", 82, {"v1"}, Health::kCritical);
    cat_.SetContainer({"c1", "db", "10.0.0.9"});
    ServiceInstance s;
    s.id = "db:5432";
    s.name = "pg";
    s.address = "10.0.0.9";
    s.port = 5432;
    s.source = "container";
    s.container_id = "c1";
    s.container_name = "db";
    ASSERT_TRUE(cat_.Register(s, {Check("service:db:5432", Health::kPassing)}).has_value());
  }

  void Add(const std::string& id, const std::string& name, const std::string& ip, int port,
           std::vector<std::string> tags, Health h) {
    ServiceInstance s;
    s.id = id;
    s.name = name;
    s.address = ip;
    s.port = port;
    s.tags = std::move(tags);
    auto r = cat_.Register(s, {Check("service:" + id, h)});
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }

  PktPtr Query(const std::string& name, ldns_rr_type type, bool edns = false) {
    PktPtr q(ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, LDNS_RR_CLASS_IN, LDNS_RD));
    ldns_pkt_set_id(q.get(), 4242);
    if (edns) ldns_pkt_set_edns_udp_size(q.get(), 1232);
    return q;
  }

  DnsAnswer Ask(const std::string& name, ldns_rr_type type) {
    auto q = Query(name, type);
    return Answer(cat_, zone_, q.get(), rng_);
  }

  static std::vector<std::string> Rdata(const ldns_rr_list* l, ldns_rr_type type) {
    std::vector<std::string> out;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(l, i);
      if (ldns_rr_get_type(rr) != type) continue;
      std::string s;
      for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
        char* t = ldns_rdf2str(ldns_rr_rdf(rr, j));
        s += (j ? " " : "") + std::string(t);
        free(t);
      }
      out.push_back(s);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Catalog cat_;
  DnsZone zone_{"moor", 5, 7};
  std::mt19937 rng_{1};
};

TEST_F(DnsAnswerTest, ServiceAOnlyUsableInstances) {
  auto a = Ask("web.service.moor.", LDNS_RR_TYPE_A);
  ASSERT_FALSE(a.forward);
  ldns_pkt* p = a.response.get();
  EXPECT_EQ(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_aa(p));
  EXPECT_TRUE(ldns_pkt_qr(p));
  EXPECT_TRUE(ldns_pkt_rd(p));
  EXPECT_TRUE(ldns_pkt_ra(p));
  EXPECT_EQ(ldns_pkt_id(p), 4242);
  EXPECT_TRUE(a.shuffle);
  EXPECT_EQ(Rdata(ldns_pkt_answer(p), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 5u);
}

TEST_F(DnsAnswerTest, CaseInsensitive) {
  auto a = Ask("WEB.Service.MOOR.", LDNS_RR_TYPE_A);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(a.response.get())), 2u);
}

TEST_F(DnsAnswerTest, SrvWithAdditionalAddresses) {
  auto a = Ask("web.service.moor.", LDNS_RR_TYPE_SRV);
  ldns_pkt* p = a.response.get();
  EXPECT_EQ(Rdata(ldns_pkt_answer(p), LDNS_RR_TYPE_SRV),
            (std::vector<std::string>{"1 1 80 0a000002.addr.moor.", "1 1 81 0a000003.addr.moor."}));
  EXPECT_EQ(Rdata(ldns_pkt_additional(p), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  // A container's instance points at its container name.
  auto b = Ask("pg.service.moor.", LDNS_RR_TYPE_SRV);
  EXPECT_EQ(Rdata(ldns_pkt_answer(b.response.get()), LDNS_RR_TYPE_SRV),
            (std::vector<std::string>{"1 1 5432 db.container.moor."}));
  EXPECT_EQ(Rdata(ldns_pkt_additional(b.response.get()), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.9"}));
  // The .addr. target resolves.
  auto c = Ask("0a000002.addr.moor.", LDNS_RR_TYPE_A);
  EXPECT_EQ(Rdata(ldns_pkt_answer(c.response.get()), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.2"}));
}

TEST_F(DnsAnswerTest, TagFilterAndRfc2782) {
  auto a = Ask("v1.web.service.moor.", LDNS_RR_TYPE_A);
  EXPECT_EQ(Rdata(ldns_pkt_answer(a.response.get()), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.2"}));
  auto b = Ask("_web._tcp.service.moor.", LDNS_RR_TYPE_SRV);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(b.response.get())), 2u);
  auto c = Ask("_web._v2.service.moor.", LDNS_RR_TYPE_SRV);
  EXPECT_EQ(Rdata(ldns_pkt_answer(c.response.get()), LDNS_RR_TYPE_SRV),
            (std::vector<std::string>{"1 1 81 0a000003.addr.moor."}));
  auto d = Ask("v3.web.service.moor.", LDNS_RR_TYPE_A);
  EXPECT_EQ(ldns_pkt_get_rcode(d.response.get()), LDNS_RCODE_NXDOMAIN);
}

TEST_F(DnsAnswerTest, ContainerNodeAndReverse) {
  auto a = Ask("db.container.moor.", LDNS_RR_TYPE_A);
  EXPECT_EQ(Rdata(ldns_pkt_answer(a.response.get()), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.9"}));
  EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a.response.get()), 0)), 7u);
  auto n = Ask("node1.node.moor.", LDNS_RR_TYPE_A);
  EXPECT_EQ(Rdata(ldns_pkt_answer(n.response.get()), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.1"}));
  auto r = Ask("9.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
  ASSERT_FALSE(r.forward);
  EXPECT_EQ(Rdata(ldns_pkt_answer(r.response.get()), LDNS_RR_TYPE_PTR),
            (std::vector<std::string>{"db.container.moor."}));
  EXPECT_TRUE(Ask("8.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR).forward);
}

TEST_F(DnsAnswerTest, NegativeAnswersCarrySoa) {
  auto a = Ask("nope.service.moor.", LDNS_RR_TYPE_A);
  ldns_pkt* p = a.response.get();
  EXPECT_EQ(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(ldns_pkt_aa(p));
  ASSERT_EQ(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 1u);
  const ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
  EXPECT_EQ(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
  EXPECT_EQ(ldns_rr_ttl(soa), 5u);
  EXPECT_EQ(ldns_pkt_get_rcode(Ask("x.bogus.moor.", LDNS_RR_TYPE_A).response.get()), LDNS_RCODE_NXDOMAIN);
  // Critical-only service: does not exist for DNS.
  Add("z1", "zed", "10.0.0.5", 1, {}, Health::kCritical);
  EXPECT_EQ(ldns_pkt_get_rcode(Ask("zed.service.moor.", LDNS_RR_TYPE_A).response.get()), LDNS_RCODE_NXDOMAIN);

  auto b = Ask("web.service.moor.", LDNS_RR_TYPE_AAAA);
  p = b.response.get();
  EXPECT_EQ(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0u);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 1u);
}

TEST_F(DnsAnswerTest, ForeignNamesAreForwarded) {
  EXPECT_TRUE(Ask("example.com.", LDNS_RR_TYPE_A).forward);
  EXPECT_TRUE(Ask("moor.example.com.", LDNS_RR_TYPE_A).forward);
  EXPECT_TRUE(Ask("1.2.3.4.in-addr.arpa.", LDNS_RR_TYPE_PTR).forward);
}

// ---- the cached fast path -------------------------------------------------

std::string Wire(ldns_pkt* p) {
  uint8_t* w = nullptr;
  size_t n = 0;
  EXPECT_EQ(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
  std::string s(reinterpret_cast<char*>(w), n);
  free(w);
  return s;
}

TEST_F(DnsAnswerTest, CachedReplyShufflesPatchesAndTruncates) {
  for (int i = 0; i < 100; ++i)
    Add("m" + std::to_string(i), "many", "10.1.0." + std::to_string(i), 80, {}, Health::kPassing);
  auto q = Query("Many.service.moor.", LDNS_RR_TYPE_A);
  std::string qw = Wire(q.get());
  auto sq = ParseSimpleQuery(reinterpret_cast<const uint8_t*>(qw.data()), qw.size());
  ASSERT_TRUE(sq);
  EXPECT_FALSE(sq->edns);
  CachedAnswer c = MakeCachedAnswer(Answer(cat_, zone_, q.get(), rng_), 1);
  ASSERT_EQ(c.answers.size(), 100u);
  std::minstd_rand r(3);
  uint8_t out[4096];
  auto res = Assemble(c, reinterpret_cast<const uint8_t*>(qw.data()), *sq, out, 512, r);
  EXPECT_TRUE(res.truncated);
  EXPECT_LE(res.size, 512u);
  ldns_pkt* p = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&p, out, res.size), LDNS_STATUS_OK);
  PktPtr owned(p);
  EXPECT_TRUE(ldns_pkt_tc(p));
  EXPECT_EQ(ldns_pkt_id(p), 4242);
  EXPECT_TRUE(ldns_pkt_rd(p));
  size_t n = ldns_rr_list_rr_count(ldns_pkt_answer(p));
  EXPECT_GT(n, 5u);
  EXPECT_LT(n, 100u);
  // The question is echoed as asked (case kept).
  char* qn = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
  EXPECT_STREQ(qn, "Many.service.moor.");
  free(qn);

  // Different orders across replies.
  std::set<std::string> firsts;
  for (int i = 0; i < 20; ++i) {
    auto x = Assemble(c, reinterpret_cast<const uint8_t*>(qw.data()), *sq, out, 4096, r);
    EXPECT_FALSE(x.truncated);
    ldns_pkt* y = nullptr;
    ASSERT_EQ(ldns_wire2pkt(&y, out, x.size), LDNS_STATUS_OK);
    EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(y)), 100u);
    char* t = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(y), 0), 0));
    firsts.insert(t);
    free(t);
    ldns_pkt_free(y);
  }
  EXPECT_GT(firsts.size(), 5u);
}

TEST_F(DnsAnswerTest, CachedReplyWithEdnsAndSrvAdditional) {
  auto q = Query("web.service.moor.", LDNS_RR_TYPE_SRV, /*edns=*/true);
  std::string qw = Wire(q.get());
  auto sq = ParseSimpleQuery(reinterpret_cast<const uint8_t*>(qw.data()), qw.size());
  ASSERT_TRUE(sq);
  EXPECT_TRUE(sq->edns);
  EXPECT_EQ(sq->udp_size, 1232);
  CachedAnswer c = MakeCachedAnswer(Answer(cat_, zone_, q.get(), rng_), 1);
  std::minstd_rand r(3);
  uint8_t out[4096];
  auto res = Assemble(c, reinterpret_cast<const uint8_t*>(qw.data()), *sq, out, sq->udp_size, r);
  ldns_pkt* p = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&p, out, res.size), LDNS_STATUS_OK);
  PktPtr owned(p);
  EXPECT_TRUE(ldns_pkt_edns(p));
  EXPECT_TRUE(ldns_pkt_aa(p));
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2u);
  EXPECT_EQ(Rdata(ldns_pkt_additional(p), LDNS_RR_TYPE_A), (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
}

}  // namespace
}  // namespace moor::discovery
