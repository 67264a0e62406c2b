// stats: GET /containers/{id}/stats?stream=0 per container, as a table that
// refreshes every second (or once with --no-stream). CPU % comes from the
// difference of two samples, as docker computes it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"

namespace moor::cli {

using nlohmann::json;

namespace {

constexpr const char* kStatsFormat =
    "table "
    "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const std::map<std::string, std::string> kStatsHeaders = {
    {"ID", "CONTAINER ID"}, {"Container", "CONTAINER"},        {"Name", "NAME"},
    {"CPUPerc", "CPU %"},   {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
    {"NetIO", "NET I/O"},   {"BlockIO", "BLOCK I/O"},          {"PIDs", "PIDS"}};

double Num(const json& j, std::initializer_list<const char*> path) {
  const json* v = &j;
  for (auto* k : path) {
    if (!v->is_object() || !v->contains(k)) return 0;
    v = &(*v)[k];
  }
  return v->is_number() ? v->get<double>() : 0;
}

struct Sample {
  double cpu_total = 0, system = 0;
};

json StatsRow(const std::string& id, const std::string& name, const json& s, Sample* prev) {
  Sample now{Num(s, {"cpu_stats", "cpu_usage", "total_usage"}), Num(s, {"cpu_stats", "system_cpu_usage"})};
  // The daemon's precpu_stats serve for the first sample; later ones use ours.
  Sample before = prev->system > 0 ? *prev
                                   : Sample{Num(s, {"precpu_stats", "cpu_usage", "total_usage"}),
                                            Num(s, {"precpu_stats", "system_cpu_usage"})};
  double cpus = Num(s, {"cpu_stats", "online_cpus"});
  if (cpus == 0) cpus = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
  double cpu = 0;
  if (now.system > before.system && now.cpu_total >= before.cpu_total) {
    cpu = (now.cpu_total - before.cpu_total) / (now.system - before.system) * cpus * 100.0;
  }
  *prev = now;
  double usage = Num(s, {"memory_stats", "usage"}) - Num(s, {"memory_stats", "stats", "inactive_file"});
  if (usage < 0) usage = 0;
  double limit = Num(s, {"memory_stats", "limit"});
  double rx = 0, tx = 0, rd = 0, wr = 0;
  if (s.contains("networks") && s["networks"].is_object()) {
    for (auto& [k, n] : s["networks"].items()) {
      rx += Num(n, {"rx_bytes"});
      tx += Num(n, {"tx_bytes"});
    }
  }
  if (s.contains("blkio_stats") && s["blkio_stats"].is_object()) {
    for (auto& e : s["blkio_stats"].value("io_service_bytes_recursive", json::array())) {
      std::string op = e.value("op", "");
      double v = e.value("value", 0.0);
      if (op == "read" || op == "Read") rd += v;
      if (op == "write" || op == "Write") wr += v;
    }
  }
  char cpu_s[32], mem_s[32];
  std::snprintf(cpu_s, sizeof cpu_s, "%.2f%%", cpu);
  std::snprintf(mem_s, sizeof mem_s, "%.2f%%", limit > 0 ? usage / limit * 100.0 : 0.0);
  auto pair = [](double a, double b) {
    return HumanSize(static_cast<int64_t>(a)) + " / " + HumanSize(static_cast<int64_t>(b));
  };
  return {{"ID", id.substr(0, 12)},
          {"Container", id.substr(0, 12)},
          {"Name", name},
          {"CPUPerc", cpu_s},
          {"MemUsage", BinarySize(usage) + " / " + BinarySize(limit)},
          {"MemPerc", mem_s},
          {"NetIO", pair(rx, tx)},
          {"BlockIO", pair(rd, wr)},
          {"PIDs", std::to_string(static_cast<int64_t>(Num(s, {"pids_stats", "current"})))}};
}

}  // namespace

Result<int> CmdStats(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"no-stream", "", false, false},
                                   {"all", "a", false, false},
                                   {"format", "", true, false},
                                   {"no-trunc", "", false, false}}));
  auto d = TRY(Daemon::Connect(g));
  struct Target {
    std::string ref, id, name;
    Sample prev;
  };
  std::vector<Target> targets;
  if (a.positional.empty()) {
    json list = TRY(d.GetJson(a.Bool("all") ? "/containers/json?all=1" : "/containers/json"));
    for (auto& c : list) {
      std::string name = c.contains("Names") && !c["Names"].empty() ? c["Names"][0].get<std::string>() : "";
      if (!name.empty() && name[0] == '/') name.erase(0, 1);
      targets.push_back({c.value("Id", ""), c.value("Id", ""), name, {}});
    }
  } else {
    for (auto& ref : a.positional) {
      json info = TRY(d.GetJson("/containers/" + Esc(ref) + "/json"));
      std::string name = info.value("Name", "");
      if (!name.empty() && name[0] == '/') name.erase(0, 1);
      targets.push_back({ref, info.value("Id", ref), name, {}});
    }
  }
  bool live = !a.Bool("no-stream");
  // moor's daemon sends no precpu_stats: without a baseline the first table
  // (the only one with --no-stream) would show 0% CPU. A first sample half a
  // second earlier is the baseline (docker's daemon waits for one as well).
  bool primed = false;
  for (auto& t : targets) {
    auto s = d.GetJson("/containers/" + Esc(t.id) + "/stats?stream=0");
    if (s && Num(*s, {"precpu_stats", "system_cpu_usage"}) == 0) {
      t.prev = {Num(*s, {"cpu_stats", "cpu_usage", "total_usage"}), Num(*s, {"cpu_stats", "system_cpu_usage"})};
      primed = true;
    }
  }
  if (primed) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (;;) {
    std::vector<json> rows;
    for (auto& t : targets) {
      auto s = d.GetJson("/containers/" + Esc(t.id) + "/stats?stream=0");
      if (!s) {
        if (!live) return Fail(std::move(s.error()));
        continue;  // gone meanwhile: keep showing the others
      }
      rows.push_back(StatsRow(t.id, t.name, *s, &t.prev));
    }
    std::string table = TRY(FormatRows(a.Get("format"), kStatsFormat, rows, kStatsHeaders));
    // Clear the screen and home the cursor between refreshes, as docker does.
    Out(live ? "\033[2J\033[H" + table : table);
    if (!live) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace moor::cli
