#include "engine/fpm_metrics.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/log.h"
#include "common/strings.h"

namespace moor::engine {

namespace d = moor::discovery;

namespace {

constexpr const char* kLabel = "moor.metrics.fpm";
constexpr const char* kDefaultPath = "/status";
constexpr int kDefaultPort = 9000;  // php-fpm's conventional listen port

std::string LabelOf(const d::ContainerInfo& c, const std::string& key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? std::string() : it->second;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<FpmLabel> ParseFpmLabel(std::string_view value) {
  FpmLabel l;
  std::string v(Trim(value));
  if (v == "off" || v == "false" || v == "none") {
    l.off = true;
    return l;
  }
  auto bad = [&] {
    return FailInvalid("label " + std::string(kLabel) + "=" + std::string(value) +
                       ": expected /PATH (php-fpm's pm.status_path), PORT:/PATH or off");
  };
  std::string path = v;
  if (auto colon = v.find(':'); colon != std::string::npos) {
    auto port = ParseInt(v.substr(0, colon));
    if (!port || *port <= 0 || *port > 65535) return bad();
    l.port = static_cast<int>(*port);
    path = v.substr(colon + 1);
  }
  if (path.size() < 2 || path[0] != '/') return bad();
  for (char ch : path) {
    // The path is the script name; a query or spaces would make another request.
    if (ch <= 0x20 || ch == 0x7f || ch == '?' || ch == '#') return bad();
  }
  l.path = std::move(path);
  return l;
}

std::optional<FpmTarget> FpmTargetFor(const d::ContainerInfo& c, std::string* warning) {
  if (c.status != "running") return std::nullopt;
  std::optional<FpmLabel> label;
  if (auto it = c.labels.find(kLabel); it != c.labels.end()) {
    auto l = ParseFpmLabel(it->second);
    if (!l) {
      if (warning) *warning = "container " + c.name + ": " + l.error().message();
      return std::nullopt;
    }
    if (l->off) return std::nullopt;
    label = *l;
  }
  // The plan says where the fastcgi check goes: the pool's address and port.
  auto plan = d::PlanFor(c, "127.0.0.1");
  std::string check_target;
  int service_port = 0;
  for (const auto& in : plan.instances) {
    if (!service_port) service_port = in.service.port;
    for (const auto& chk : in.checks) {
      if (chk.type == "fastcgi" && check_target.empty()) check_target = chk.target;
    }
  }
  if (!label && check_target.empty()) return std::nullopt;  // not a php-fpm pool
  std::string host = c.host_network ? "127.0.0.1" : c.ip;
  if (host.empty()) return std::nullopt;  // no network: nothing to reach it at
  FpmTarget t;
  t.container = c.name;
  t.id = c.id;
  t.app = LabelOf(c, "moor.app");
  t.service = LabelOf(c, "moor.app.service");
  if (t.service.empty()) t.service = LabelOf(c, "moor.service");
  t.release = LabelOf(c, "moor.release");
  t.path = label ? label->path : kDefaultPath;
  if (label && label->port) {
    t.address = host + ":" + std::to_string(label->port);
  } else if (!check_target.empty()) {
    t.address = check_target;
  } else {
    t.address = host + ":" + std::to_string(service_port ? service_port : kDefaultPort);
  }
  return t;
}

std::vector<FpmResult> ScrapeFpm(const std::vector<FpmTarget>& targets, const FpmScrapeOptions& opts) {
  std::vector<FpmResult> out;
  out.reserve(targets.size());
  for (const auto& t : targets) out.push_back({t, FailInvalid("not fetched")});
  if (targets.empty()) return out;
  int64_t deadline = NowNs() + opts.budget_ns;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < targets.size();) {
      int64_t left = deadline - NowNs();
      if (left <= 0) {
        out[i].status = Fail(Error(ETIMEDOUT, "php-fpm status " + targets[i].address + targets[i].path +
                                                  ": not fetched within the scrape's budget"));
        continue;
      }
      out[i].status = d::FetchFpmStatus(targets[i].address, targets[i].path, std::min(opts.pool_timeout_ns, left));
    }
  };
  size_t n = std::clamp<size_t>(opts.parallel, 1, targets.size());
  std::vector<std::jthread> workers;
  for (size_t i = 1; i < n; ++i) workers.emplace_back(work);
  work();
  return out;  // the workers join here
}

void WriteFpmMetrics(metrics::SampleWriter& w, const std::vector<FpmResult>& results) {
  auto labels = [](const FpmResult& r) {
    return metrics::Labels{{"app", r.target.app},
                           {"service", r.target.service},
                           {"release", r.target.release},
                           {"container", r.target.container},
                           {"pool", r.status ? r.status->pool : std::string()}};
  };
  w.Family("moor_phpfpm_up", "gauge", "1 when the pool's status page was fetched at this scrape, else 0");
  for (const auto& r : results) w.Sample(labels(r), r.status ? 1 : 0);
  struct Field {
    const char* name;
    const char* type;
    const char* help;
    int64_t d::FpmStatus::*field;
  };
  static constexpr Field kFields[] = {
      {"moor_phpfpm_active_processes", "gauge", "Workers serving a request", &d::FpmStatus::active_processes},
      {"moor_phpfpm_idle_processes", "gauge", "Workers waiting for a request", &d::FpmStatus::idle_processes},
      {"moor_phpfpm_total_processes", "gauge", "Workers of the pool", &d::FpmStatus::total_processes},
      {"moor_phpfpm_accepted_connections_total", "counter", "Requests the pool accepted since it started",
       &d::FpmStatus::accepted_conn},
      {"moor_phpfpm_listen_queue", "gauge", "Requests waiting for a free worker", &d::FpmStatus::listen_queue},
      {"moor_phpfpm_listen_queue_max", "gauge", "The most requests ever waiting for a free worker",
       &d::FpmStatus::max_listen_queue},
      {"moor_phpfpm_max_children_reached_total", "counter", "Times the pool hit pm.max_children",
       &d::FpmStatus::max_children_reached},
      {"moor_phpfpm_slow_requests_total", "counter", "Requests slower than request_slowlog_timeout",
       &d::FpmStatus::slow_requests},
  };
  for (const auto& f : kFields) {
    w.Family(f.name, f.type, f.help);
    for (const auto& r : results) {
      if (!r.status) continue;
      int64_t v = (*r.status).*f.field;
      if (v >= 0) w.Sample(labels(r), static_cast<double>(v));
    }
  }
}

struct FpmMetrics::State {
  d::ContainerLister& lister;
  FpmScrapeOptions opts;
  std::mutex mu;
  std::set<std::string> warned;           // "id label" already logged
  std::map<std::string, bool> last_up;    // by container id: log a pool going down once
};

FpmMetrics::FpmMetrics(d::ContainerLister& lister, FpmScrapeOptions opts)
    : state_(new State{lister, opts, {}, {}, {}}) {
  collector_ = metrics::DefaultRegistry().AddCollector([this](metrics::SampleWriter& w) { Collect(w); });
}

FpmMetrics::~FpmMetrics() { metrics::DefaultRegistry().RemoveCollector(collector_); }

void FpmMetrics::Collect(metrics::SampleWriter& w) {
  auto& s = *state_;
  std::vector<FpmTarget> targets;
  std::set<std::string> live;
  for (const auto& c : s.lister.List()) {
    std::string warning;
    if (auto t = FpmTargetFor(c, &warning)) targets.push_back(std::move(*t));
    live.insert(c.id);
    if (!warning.empty()) {
      std::lock_guard lk(s.mu);
      if (s.warned.insert(c.id + " " + LabelOf(c, kLabel)).second) log::Warn("metrics: " + warning);
    }
  }
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.container < b.container; });
  auto results = ScrapeFpm(targets, s.opts);
  {
    std::lock_guard lk(s.mu);
    for (const auto& r : results) {
      bool up = r.status.has_value();
      auto [it, fresh] = s.last_up.try_emplace(r.target.id, up);
      if (!up && (fresh || it->second)) log::Warn("metrics: " + r.status.error().message());
      it->second = up;
    }
    std::erase_if(s.last_up, [&](const auto& kv) { return !live.contains(kv.first); });
    std::erase_if(s.warned, [&](const std::string& k) { return !live.contains(k.substr(0, k.find(' '))); });
  }
  WriteFpmMetrics(w, results);
}

}  // namespace moor::engine
