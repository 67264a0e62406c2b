// The engine's Prometheus series. A scrape reads a few small cgroup files per
// running container and /proc/PID/net/dev, straight into ContainerUsage (no
// JSON round trip through StatsJson).
#include "engine/engine_metrics.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <time.h>

#include <charconv>
#include <map>
#include <sstream>

#include "common/file.h"
#include "common/strings.h"
#include "discovery/discovery_metrics.h"
#include "engine/engine.h"
#include "monitor/oom.h"

#ifndef MOOR_ENGINE_VERSION
#define MOOR_ENGINE_VERSION "unknown"
#endif

namespace moor::engine {

namespace {

std::optional<uint64_t> ReadU64(const std::string& path) {
  auto t = ReadFile(path);
  if (!t) return std::nullopt;
  return ParseUint(Trim(*t));
}

// "key value" lines (memory.stat, cpu.stat).
std::optional<uint64_t> KeyedU64(const std::string& text, std::string_view key) {
  for (const auto& line : Split(text, '\n')) {
    auto sp = line.find(' ');
    if (sp != std::string::npos && std::string_view(line).substr(0, sp) == key) return ParseUint(Trim(line.substr(sp + 1)));
  }
  return std::nullopt;
}

std::optional<uint64_t> KeyedFile(const std::string& path, std::string_view key) {
  auto t = ReadFile(path);
  if (!t) return std::nullopt;
  return KeyedU64(*t, key);
}

// "max" or a number ≥ 2^62 (v1's "unlimited" is PAGE_COUNTER_MAX) → 0.
std::optional<uint64_t> Limit(const std::string& path) {
  auto t = ReadFile(path);
  if (!t) return std::nullopt;
  auto s = Trim(*t);
  if (s == "max") return 0;
  auto v = ParseUint(s);
  if (!v) return std::nullopt;
  return *v >= (1ull << 62) ? 0 : *v;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

void ReadNetDev(const std::string& path, ContainerUsage& u) {
  auto t = ReadFile(path);
  if (!t) return;
  uint64_t rx_b = 0, rx_p = 0, tx_b = 0, tx_p = 0;
  auto lines = Split(*t, '\n');
  for (size_t i = 2; i < lines.size(); ++i) {  // two header lines
    auto colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    if (Trim(std::string_view(lines[i]).substr(0, colon)) == "lo") continue;
    std::istringstream in(lines[i].substr(colon + 1));
    uint64_t v[16] = {};
    for (auto& x : v) in >> x;
    rx_b += v[0];
    rx_p += v[1];
    tx_b += v[8];
    tx_p += v[9];
  }
  u.rx_bytes = rx_b;
  u.rx_packets = rx_p;
  u.tx_bytes = tx_b;
  u.tx_packets = tx_p;
}

metrics::Family<metrics::Counter>& PullsFamily() {
  static auto& family =
      metrics::DefaultRegistry().AddCounter("moor_image_pulls_total", "Image pulls through the daemon's API.", {"result"});
  return family;
}

metrics::Family<metrics::Histogram>& ApiFamily() {
  static auto& family = metrics::DefaultRegistry().AddHistogram(
      "moor_api_request_duration_seconds",
      "Time until the daemon's API sent a response's head (streams: their start), by route pattern.",
      {"method", "route", "code"});
  return family;
}

std::string Label(const ContainerRecord& r, const char* key) {
  auto it = r.config.labels.find(key);
  return it == r.config.labels.end() ? "" : it->second;
}

std::string ServiceOf(const ContainerRecord& r) {
  auto s = Label(r, "moor.app.service");
  return s.empty() ? Label(r, "moor.service") : s;
}

}  // namespace

ContainerUsage ReadContainerUsage(const std::string& cgroup_root, const std::string& cgroup_path,
                                  const std::string& net_dev) {
  ContainerUsage u;
  if (Exists(cgroup_root + "/memory")) {
    // v1 or hybrid: one hierarchy per controller.
    std::string m = cgroup_root + "/memory" + cgroup_path;
    u.memory_usage = ReadU64(m + "/memory.usage_in_bytes");
    u.memory_limit = Limit(m + "/memory.limit_in_bytes");
    u.memory_cache = KeyedFile(m + "/memory.stat", "cache");
    if (auto t = ReadFile(m + "/memory.oom_control")) {
      if (auto n = monitor::ParseOomKillCount(*t)) u.oom_kills = static_cast<uint64_t>(*n);
    }
    if (auto ns = ReadU64(cgroup_root + "/cpuacct" + cgroup_path + "/cpuacct.usage")) u.cpu_seconds = *ns / 1e9;
    u.pids = ReadU64(cgroup_root + "/pids" + cgroup_path + "/pids.current");
    if (auto t = ReadFile(cgroup_root + "/blkio" + cgroup_path + "/blkio.throttle.io_service_bytes")) {
      uint64_t rd = 0, wr = 0;
      for (const auto& line : Split(*t, '\n')) {
        auto f = Split(line, ' ');  // "8:0 Read 4096"
        if (f.size() != 3) continue;
        auto v = ParseUint(f[2]).value_or(0);
        if (f[1] == "Read") rd += v;
        else if (f[1] == "Write") wr += v;
      }
      u.blkio_read = rd;
      u.blkio_write = wr;
    }
  } else {
    std::string d = cgroup_root + cgroup_path;
    u.memory_usage = ReadU64(d + "/memory.current");
    u.memory_limit = Limit(d + "/memory.max");
    u.memory_cache = KeyedFile(d + "/memory.stat", "file");
    if (auto t = ReadFile(d + "/memory.events")) {
      if (auto n = monitor::ParseOomKillCount(*t)) u.oom_kills = static_cast<uint64_t>(*n);
    }
    if (auto us = KeyedFile(d + "/cpu.stat", "usage_usec")) u.cpu_seconds = *us / 1e6;
    u.pids = ReadU64(d + "/pids.current");
    if (auto t = ReadFile(d + "/io.stat")) {
      uint64_t rd = 0, wr = 0;
      for (const auto& line : Split(*t, '\n')) {  // "8:0 rbytes=N wbytes=N rios=N ..."
        for (const auto& f : Split(line, ' ')) {
          if (f.starts_with("rbytes=")) rd += ParseUint(f.substr(7)).value_or(0);
          else if (f.starts_with("wbytes=")) wr += ParseUint(f.substr(7)).value_or(0);
        }
      }
      u.blkio_read = rd;
      u.blkio_write = wr;
    }
  }
  if (!net_dev.empty()) ReadNetDev(net_dev, u);
  return u;
}

std::vector<std::string> ContainerLabelNames() { return {"container", "id", "app", "service", "image", "release"}; }

metrics::Labels ContainerLabels(const ContainerRecord& r) {
  return {{"container", r.name},
          {"id", r.id.substr(0, 12)},
          {"app", Label(r, "moor.app")},
          {"service", ServiceOf(r)},
          {"image", r.config.image.empty() ? r.image_ref : r.config.image},
          {"release", Label(r, "moor.release")}};
}

std::optional<double> ParseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  auto num = [&](size_t pos, size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    auto r = std::from_chars(s.data() + pos, s.data() + pos + len, v);
    if (r.ec != std::errc() || r.ptr != s.data() + pos + len) return std::nullopt;
    return v;
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  auto Y = num(0, 4), M = num(5, 2), D = num(8, 2), h = num(11, 2), m = num(14, 2), sec = num(17, 2);
  if (!Y || !M || !D || !h || !m || !sec || *M < 1 || *M > 12 || *D < 1 || *D > 31 || *h > 23 || *m > 59 ||
      *sec > 60) {
    return std::nullopt;
  }
  size_t i = 19;
  double frac = 0;
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    ++i;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      frac += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  int offset = 0;
  if (i < s.size() && s[i] == 'Z' && i + 1 == s.size()) {
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    auto oh = num(i + 1, 2), om = num(i + 4, 2);
    if (!oh || !om) return std::nullopt;
    offset = (s[i] == '-' ? -1 : 1) * (*oh * 3600 + *om * 60);
  } else {
    return std::nullopt;
  }
  struct tm t {};
  t.tm_year = *Y - 1900;
  t.tm_mon = *M - 1;
  t.tm_mday = *D;
  t.tm_hour = *h;
  t.tm_min = *m;
  t.tm_sec = *sec;
  time_t epoch = timegm(&t);
  return static_cast<double>(epoch - offset) + frac;
}

void WriteContainerMetrics(metrics::SampleWriter& w, const std::vector<ContainerSample>& containers) {
  std::vector<metrics::Labels> labels;
  labels.reserve(containers.size());
  for (const auto& c : containers) labels.push_back(ContainerLabels(c.rec));

  // One family of usage numbers: each container that has the value.
  auto usage = [&](const char* name, const char* type, const char* help, auto field) {
    w.Family(name, type, help);
    for (size_t i = 0; i < containers.size(); ++i) {
      if (!containers[i].usage) continue;
      auto v = field(*containers[i].usage);
      if (v) w.Sample(labels[i], static_cast<double>(*v));
    }
  };
  usage("moor_container_cpu_seconds_total", "counter", "CPU time the container used (user + system), in seconds.",
        [](const ContainerUsage& u) { return u.cpu_seconds; });
  usage("moor_container_memory_usage_bytes", "gauge", "Memory the container's cgroup uses, page cache included.",
        [](const ContainerUsage& u) { return u.memory_usage; });
  usage("moor_container_memory_limit_bytes", "gauge", "Memory limit of the container (0 = unlimited).",
        [](const ContainerUsage& u) { return u.memory_limit; });
  usage("moor_container_memory_cache_bytes", "gauge", "Page cache charged to the container.",
        [](const ContainerUsage& u) { return u.memory_cache; });
  // OOM kills: the cgroup's counter while the container runs (it starts at 0
  // with each start); a stopped container reports whether its last run was
  // OOM-killed.
  w.Family("moor_container_oom_kills_total", "counter", "Processes of the container killed by the OOM killer.");
  for (size_t i = 0; i < containers.size(); ++i) {
    const auto& c = containers[i];
    if (c.usage && c.usage->oom_kills) w.Sample(labels[i], static_cast<double>(*c.usage->oom_kills));
    else if (!c.usage) w.Sample(labels[i], c.rec.state.oom_killed ? 1 : 0);
  }
  usage("moor_container_pids", "gauge", "Processes and threads in the container.",
        [](const ContainerUsage& u) { return u.pids; });
  usage("moor_container_network_receive_bytes_total", "counter", "Bytes received by the container (all interfaces but lo).",
        [](const ContainerUsage& u) { return u.rx_bytes; });
  usage("moor_container_network_transmit_bytes_total", "counter", "Bytes sent by the container (all interfaces but lo).",
        [](const ContainerUsage& u) { return u.tx_bytes; });
  usage("moor_container_network_receive_packets_total", "counter", "Packets received by the container.",
        [](const ContainerUsage& u) { return u.rx_packets; });
  usage("moor_container_network_transmit_packets_total", "counter", "Packets sent by the container.",
        [](const ContainerUsage& u) { return u.tx_packets; });
  usage("moor_container_blkio_read_bytes_total", "counter", "Bytes the container read from block devices.",
        [](const ContainerUsage& u) { return u.blkio_read; });
  usage("moor_container_blkio_write_bytes_total", "counter", "Bytes the container wrote to block devices.",
        [](const ContainerUsage& u) { return u.blkio_write; });

  w.Family("moor_container_restarts_total", "counter", "Restarts of the container by its restart policy.");
  for (size_t i = 0; i < containers.size(); ++i) w.Sample(labels[i], containers[i].rec.state.restart_count);
  w.Family("moor_container_running", "gauge", "1 while the container runs (paused included), else 0.");
  for (size_t i = 0; i < containers.size(); ++i) {
    const auto& st = containers[i].rec.state.status;
    w.Sample(labels[i], st == "running" || st == "paused" ? 1 : 0);
  }
  w.Family("moor_container_health_status", "gauge",
           "Health check state: 1 for the current status; absent without a health check.");
  for (size_t i = 0; i < containers.size(); ++i) {
    const auto& h = containers[i].rec.state.health.status;
    if (h.empty() || !containers[i].usage) continue;
    for (const char* s : {"healthy", "unhealthy", "starting"}) {
      auto l = labels[i];
      l.emplace_back("status", s);
      w.Sample(l, h == s ? 1 : 0);
    }
  }
  w.Family("moor_container_start_time_seconds", "gauge", "When the container's current (or last) run started, Unix time.");
  for (size_t i = 0; i < containers.size(); ++i) {
    if (auto t = ParseRfc3339(containers[i].rec.state.started_at)) w.Sample(labels[i], *t);
  }

  // Running instances per service; discovery adds state="passing|critical".
  std::map<std::pair<std::string, std::string>, int> running;
  for (const auto& c : containers) {
    auto svc = ServiceOf(c.rec);
    if (svc.empty()) continue;
    auto& n = running[{Label(c.rec, "moor.app"), svc}];
    if (c.rec.state.status == "running") ++n;
  }
  w.Family("moor_service_instances", "gauge", "Instances of a service by state (running: containers; passing/critical: checks).");
  for (const auto& [key, n] : running) {
    w.Sample({{"app", key.first}, {"service", key.second}, {"state", "running"}}, n);
  }
}

EngineMetrics::EngineMetrics(Engine& engine) {
  // Both results from the first scrape on (0, not absent), so rate() works at once.
  PullsFamily().With({"success"});
  PullsFamily().With({"failure"});
  ApiFamily();  // its # TYPE from the first scrape on
  collector_ = metrics::DefaultRegistry().AddCollector([&engine](metrics::SampleWriter& w) {
    std::vector<ContainerSample> samples;
    if (auto all = engine.All()) {
      for (auto& r : *all) {
        ContainerSample s;
        if ((r.state.status == "running" || r.state.status == "paused") && r.state.pid > 0) {
          s.usage = ReadContainerUsage("/sys/fs/cgroup", "/moor/" + r.id,
                                       "/proc/" + std::to_string(r.state.pid) + "/net/dev");
        }
        s.rec = std::move(r);
        samples.push_back(std::move(s));
      }
    }
    WriteContainerMetrics(w, samples);
    // moor_service_instances is still the open family: discovery's check
    // states join the containers' "running" there (one family per scrape).
    discovery::WriteServiceHealthSamples(w, discovery::CurrentServiceHealth());
    w.Family("moor_build_info", "gauge", "Always 1; the labels say which moor this is.");
    w.Sample({{"version", MOOR_ENGINE_VERSION}}, 1);
  });
}

EngineMetrics::~EngineMetrics() { metrics::DefaultRegistry().RemoveCollector(collector_); }

void ObserveApiRequest(std::string_view method, std::string_view route, int status, double seconds) {
  ApiFamily().With({std::string(method), std::string(route), std::to_string(status)}).Observe(seconds);
}

void CountImagePull(bool ok) { PullsFamily().With({ok ? "success" : "failure"}).Inc(); }

void RegisterMetricsRoute(api::Router& router) {
  router.Handle("GET", "/metrics", [](const api::Request&, api::ResponseWriter& w) {
    api::Response r;
    r.status = 200;
    r.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics::DefaultRegistry().Render();
    w.Send(std::move(r));
  });
}

Result<void> ValidateMetricsAddr(const std::string& addr) {
  auto bad = [&] {
    return FailInvalid("--metrics-addr \"" + addr + "\": expected IP:PORT, like 127.0.0.1:9323 or [::1]:9323");
  };
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  auto port = ParseUint(std::string_view(addr).substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return bad();
  std::string host = addr.substr(0, colon);
  unsigned char buf[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) != 1) return bad();
  } else if (inet_pton(AF_INET, host.c_str(), buf) != 1) {
    return bad();
  }
  return {};
}

}  // namespace moor::engine
