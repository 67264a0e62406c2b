// The release gate (Catalog::SetReleaseGate): the gated views show only the
// live release's instances, fail open when none of them passes, and a change
// of the gate wakes blocking queries; DNS and Prometheus SD read through it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <random>

#include "discovery/catalog.h"
#include "discovery/dns_answer.h"
#include "discovery/prometheus_sd.h"

namespace moor::discovery {
namespace {

using namespace std::chrono_literals;

class CatalogGateTest : public ::testing::Test {
 protected:
  CatalogGateTest() : cat_(Node{"id1", "node1", "10.0.0.1", "dc1", {}}) {}

  void SetUp() override {
    // Release 1: a passing instance; release 2: one passing, one critical;
    // and one without a release (registered by hand).
    Add("php-1", "1", "10.0.0.2", Health::kPassing, {"blue"});
    Add("php-2", "2", "10.0.0.3", Health::kPassing, {"green"});
    Add("php-3", "2", "10.0.0.4", Health::kCritical, {"green"});
    Add("php-x", "", "10.0.0.5", Health::kPassing, {"blue"});
  }

  void Add(const std::string& id, const std::string& release, const std::string& ip, Health h,
           std::vector<std::string> tags) {
    ServiceInstance s;
    s.id = id;
    s.name = "php";
    s.address = ip;
    s.port = 9000;
    s.tags = std::move(tags);
    s.source = "container";
    if (!release.empty()) s.meta[Catalog::kReleaseMeta] = release;
    CheckDef c;
    c.id = "service:" + id;
    c.name = id;
    c.type = "ttl";
    c.ttl_ns = 60'000'000'000;
    c.initial = h;
    auto r = cat_.Register(s, {c});
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }

  static std::vector<std::string> Ids(const std::vector<InstanceHealth>& v) {
    std::vector<std::string> out;
    for (const auto& ih : v) out.push_back(ih.service.id);
    return out;
  }
  static std::vector<std::string> Ids(const std::vector<ServiceInstance>& v) {
    std::vector<std::string> out;
    for (const auto& s : v) out.push_back(s.id);
    return out;
  }
  uint64_t Gate(const std::string& release) {
    auto r = cat_.SetReleaseGate("php", release);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r ? *r : 0;
  }

  Catalog cat_;
};

using V = std::vector<std::string>;

TEST_F(CatalogGateTest, UngatedServiceShowsEveryInstance) {
  EXPECT_EQ(cat_.ReleaseGate("php"), "");
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-1", "php-2", "php-3", "php-x"}));
  EXPECT_EQ(Ids(cat_.Usable("php")), (V{"php-1", "php-2", "php-x"}));
}

TEST_F(CatalogGateTest, GatedReadsShowOnlyTheLiveRelease) {
  Gate("2");
  EXPECT_EQ(cat_.ReleaseGate("php"), "2");
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-2", "php-3"}));
  EXPECT_EQ(Ids(cat_.Health("php", "", /*passing_only=*/true)), (V{"php-2"}));
  EXPECT_EQ(Ids(cat_.Usable("php")), (V{"php-2"}));
  // Tags filter after the gate: release 1's "blue" instances stay hidden.
  EXPECT_EQ(Ids(cat_.Health("php", "blue")), V{});
  EXPECT_EQ(Ids(cat_.Health("php", "green")), (V{"php-2", "php-3"}));
  // The ungated view (readiness) sees everything.
  EXPECT_EQ(Ids(cat_.Health("php", "", false, /*gated=*/false)), (V{"php-1", "php-2", "php-3", "php-x"}));
  EXPECT_EQ(Ids(cat_.Health("php", "", true, /*gated=*/false)), (V{"php-1", "php-2", "php-x"}));

  // Moving the gate back to 1 (a rollback), then lifting it.
  Gate("1");
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-1"}));
  Gate("");
  EXPECT_EQ(cat_.ReleaseGate("php"), "");
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-1", "php-2", "php-3", "php-x"}));
}

TEST_F(CatalogGateTest, FailsOpenWhileNoInstanceOfTheReleasePasses) {
  // No instance of release 3 at all.
  Gate("3");
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-1", "php-2", "php-3", "php-x"}));
  EXPECT_EQ(Ids(cat_.Usable("php")), (V{"php-1", "php-2", "php-x"}));

  // Release 2 with its only passing instance failing: all are shown again.
  Gate("2");
  ASSERT_TRUE(cat_.UpdateCheck("service:php-2", Health::kCritical, "down"));
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-1", "php-2", "php-3", "php-x"}));
  // A warning is not passing: still open.
  ASSERT_TRUE(cat_.UpdateCheck("service:php-3", Health::kWarning, "slow"));
  EXPECT_EQ(Ids(cat_.Usable("php")), (V{"php-1", "php-3", "php-x"}));
  // One passes again: the gate closes, and the check change moved the index.
  const uint64_t before = cat_.ServiceIndex("php");
  ASSERT_TRUE(cat_.UpdateCheck("service:php-3", Health::kPassing, ""));
  EXPECT_GT(cat_.ServiceIndex("php"), before);
  EXPECT_EQ(Ids(cat_.Health("php")), (V{"php-2", "php-3"}));
  EXPECT_EQ(Ids(cat_.Usable("php")), (V{"php-3"}));
}

TEST_F(CatalogGateTest, ChangingTheGateBumpsTheServiceIndexOnly) {
  ASSERT_TRUE(cat_.Register(
      [] {
        ServiceInstance s;
        s.id = "web-1";
        s.name = "web";
        return s;
      }(),
      {}));
  const uint64_t web = cat_.ServiceIndex("web");
  const uint64_t services = cat_.ServicesIndex();
  const uint64_t before = cat_.Index();

  const uint64_t idx = Gate("2");
  EXPECT_GT(idx, before);
  EXPECT_EQ(idx, cat_.Index());
  EXPECT_EQ(cat_.ServiceIndex("php"), idx);
  EXPECT_EQ(cat_.ServiceIndex("web"), web);
  EXPECT_EQ(cat_.ServicesIndex(), services);  // the set of services and tags did not change

  // The same gate again changes nothing and answers the service's index.
  EXPECT_EQ(Gate("2"), idx);
  EXPECT_EQ(cat_.Index(), idx);
  // Lifting it is a change.
  EXPECT_GT(Gate(""), idx);
  // Lifting a gate never set is not.
  const uint64_t now = cat_.Index();
  EXPECT_EQ(Gate(""), cat_.ServiceIndex("php"));
  EXPECT_EQ(cat_.Index(), now);
}

TEST_F(CatalogGateTest, GateOnAServiceWithoutInstancesAndBadName) {
  auto r = cat_.SetReleaseGate("", "2");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().errnum(), EINVAL);

  // A gate set before its instances exist (re-applied at daemon start).
  auto idx = cat_.SetReleaseGate("later", "5");
  ASSERT_TRUE(idx.has_value());
  EXPECT_EQ(cat_.ServiceIndex("later"), *idx);
  EXPECT_TRUE(cat_.Health("later").empty());
  ServiceInstance s;
  s.id = "later-1";
  s.name = "later";
  s.meta[Catalog::kReleaseMeta] = "4";
  ASSERT_TRUE(cat_.Register(s, {}));
  EXPECT_EQ(Ids(cat_.Health("later")), V{"later-1"});  // fail-open: release 5 is not there
  s.id = "later-2";
  s.meta[Catalog::kReleaseMeta] = "5";
  ASSERT_TRUE(cat_.Register(s, {}));  // no checks: passing
  EXPECT_EQ(Ids(cat_.Health("later")), V{"later-2"});
  // Deregistering the live one reopens the gate.
  ASSERT_TRUE(cat_.Deregister("later-2"));
  EXPECT_EQ(Ids(cat_.Health("later")), V{"later-1"});
}

TEST_F(CatalogGateTest, GateChangeWakesABlockingQueryAndWatchers) {
  std::atomic<uint64_t> watched{0};
  int h = cat_.Watch([&](uint64_t i) { watched = i; });
  const uint64_t seen = cat_.ServiceIndex("php");
  auto blocked = std::async(std::launch::async, [&] {
    return cat_.WaitFor([&] { return cat_.ServiceIndex("php"); }, seen, std::chrono::steady_clock::now() + 10s);
  });
  EXPECT_EQ(blocked.wait_for(200ms), std::future_status::timeout) << "woke without a change";
  const uint64_t idx = Gate("2");
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(blocked.get(), idx);
  EXPECT_EQ(watched.load(), idx);
  cat_.Unwatch(h);
}

TEST_F(CatalogGateTest, DnsAnswersOnlyTheLiveRelease) {
  DnsZone zone{"moor", 5, 7};
  std::mt19937 rng{1};
  auto ask = [&] {
    PktPtr q(
        ldns_pkt_query_new(ldns_dname_new_frm_str("php.service.moor."), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD));
    DnsAnswer a = Answer(cat_, zone, q.get(), rng);
    std::vector<std::string> ips;
    const ldns_rr_list* l = ldns_pkt_answer(a.response.get());
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); ++i) {
      char* t = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(l, i), 0));
      ips.push_back(t);
      free(t);
    }
    std::sort(ips.begin(), ips.end());
    return ips;
  };
  EXPECT_EQ(ask(), (V{"10.0.0.2", "10.0.0.3", "10.0.0.5"}));
  Gate("2");
  EXPECT_EQ(ask(), V{"10.0.0.3"});
  Gate("1");
  EXPECT_EQ(ask(), V{"10.0.0.2"});
}

TEST_F(CatalogGateTest, PrometheusTargetsOnlyTheLiveRelease) {
  Gate("1");
  auto j = nlohmann::json::parse(PrometheusTargets(cat_, "php", ""));
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_NE(j[0]["targets"].dump().find("10.0.0.2:9000"), std::string::npos) << j.dump();
}

}  // namespace
}  // namespace moor::discovery
