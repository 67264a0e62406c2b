#include "discovery/discovery_metrics.h"

#include <array>
#include <atomic>
#include <map>
#include <mutex>

namespace moor::discovery {

namespace {

// Query types with their own bucket; everything else is "other" (a client
// sending random types cannot grow the series without bound).
constexpr std::array<std::pair<uint16_t, std::string_view>, 13> kTypes = {{
    {1, "A"},
    {2, "NS"},
    {5, "CNAME"},
    {6, "SOA"},
    {12, "PTR"},
    {15, "MX"},
    {16, "TXT"},
    {28, "AAAA"},
    {33, "SRV"},
    {35, "NAPTR"},
    {64, "SVCB"},
    {65, "HTTPS"},
    {255, "ANY"},
}};
constexpr size_t kOther = kTypes.size();
constexpr size_t kRcodes = 16;  // the header's 4 bits

std::array<std::array<std::atomic<uint64_t>, kRcodes>, kTypes.size() + 1> g_dns{};

size_t TypeSlot(uint16_t qtype) {
  for (size_t i = 0; i < kTypes.size(); ++i) {
    if (kTypes[i].first == qtype) return i;
  }
  return kOther;
}

void CollectDns(metrics::SampleWriter& w) {
  w.Family("moor_dns_queries_total", "counter", "DNS queries answered by moor's DNS server, by type and response code");
  for (size_t t = 0; t <= kOther; ++t) {
    for (size_t r = 0; r < kRcodes; ++r) {
      uint64_t n = g_dns[t][r].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::string type(t == kOther ? std::string_view("other") : kTypes[t].second);
      w.Sample({{"qtype", type}, {"rcode", DnsRcodeLabel(static_cast<int>(r))}}, static_cast<double>(n));
    }
  }
}

metrics::Family<metrics::Counter>& CheckResults() {
  static auto& f = metrics::DefaultRegistry().AddCounter(
      "moor_check_results_total", "Health check results (each probe, before thresholds; TTL updates)",
      {"type", "status"});
  return f;
}

}  // namespace

void CountDnsQuery(uint16_t qtype, int rcode) {
  g_dns[TypeSlot(qtype)][static_cast<size_t>(rcode) & (kRcodes - 1)].fetch_add(1, std::memory_order_relaxed);
}

void EnableDnsMetrics() {
  static std::once_flag once;
  std::call_once(once, [] { metrics::DefaultRegistry().AddCollector(CollectDns); });
}

uint16_t DnsQueryType(const uint8_t* msg, size_t n) {
  if (n < 12 || (msg[4] == 0 && msg[5] == 0)) return 0;  // QDCOUNT 0
  size_t off = 12;
  while (off < n) {
    uint8_t len = msg[off];
    if (len == 0) {
      ++off;
      break;
    }
    if ((len & 0xc0) != 0) {  // a compression pointer ends the name
      off += 2;
      break;
    }
    off += 1 + len;
  }
  if (off + 2 > n) return 0;
  return static_cast<uint16_t>(msg[off] << 8 | msg[off + 1]);
}

std::string_view DnsTypeLabel(uint16_t qtype) {
  size_t slot = TypeSlot(qtype);
  return slot == kOther ? "other" : kTypes[slot].second;
}

std::string DnsRcodeLabel(int rcode) {
  static constexpr std::array<std::string_view, 11> kNames = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                              "NOTIMP",   "REFUSED", "YXDOMAIN", "YXRRSET",
                                                              "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode >= 0 && static_cast<size_t>(rcode) < kNames.size()) return std::string(kNames[static_cast<size_t>(rcode)]);
  return "RCODE" + std::to_string(rcode);
}

void CountCheckResult(std::string_view type, Health status) {
  CheckResults().With({std::string(type), std::string(HealthName(status))}).Inc();
}

ServiceHealthCounts CountServiceHealth(const Catalog& catalog, const InstanceLabels& labels) {
  ServiceHealthCounts counts;
  for (const auto& [name, tags] : catalog.ServiceNames()) {
    for (const auto& h : catalog.Health(name, "", false, /*gated=*/false)) {
      auto key = labels ? labels(h.service) : std::pair<std::string, std::string>{"", name};
      auto& c = counts[key];
      (h.health == Health::kCritical ? c.second : c.first) += 1;
    }
  }
  return counts;
}

namespace {
std::mutex g_source_mu;
std::function<ServiceHealthCounts()> g_source;
}  // namespace

void SetServiceHealthSource(std::function<ServiceHealthCounts()> source) {
  std::lock_guard lk(g_source_mu);
  g_source = std::move(source);
}

ServiceHealthCounts CurrentServiceHealth() {
  // Called under the lock: the discovery service clears the source before
  // its catalog goes away, and must wait for a scrape reading it.
  std::lock_guard lk(g_source_mu);
  return g_source ? g_source() : ServiceHealthCounts{};
}

void WriteServiceHealthSamples(metrics::SampleWriter& w, const ServiceHealthCounts& counts) {
  for (const auto& [key, c] : counts) {
    w.Sample({{"app", key.first}, {"service", key.second}, {"state", "passing"}}, c.first);
    w.Sample({{"app", key.first}, {"service", key.second}, {"state", "critical"}}, c.second);
  }
}

}  // namespace moor::discovery
