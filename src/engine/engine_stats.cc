// top, stats and update: the container's processes and cgroup counters, and
// live resource changes through the runtime's update.
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/process_runner.h"

namespace moor::engine {

using nlohmann::json;

namespace {

std::optional<uint64_t> ReadU64(const std::string& path) {
  auto t = ReadFile(path);
  if (!t) return std::nullopt;
  auto v = ParseUint(Trim(*t));
  return v ? std::optional<uint64_t>(*v) : std::nullopt;
}

std::optional<uint64_t> KeyedU64(const std::string& path, std::string_view key) {
  auto t = ReadFile(path);
  if (!t) return std::nullopt;
  for (const auto& line : Split(*t, '\n')) {
    auto sp = line.find(' ');
    if (sp != std::string::npos && line.substr(0, sp) == key) {
      auto v = ParseUint(Trim(line.substr(sp + 1)));
      if (v) return *v;
    }
  }
  return std::nullopt;
}

bool CgroupV1() {
  struct stat st {};
  return stat("/sys/fs/cgroup/memory", &st) == 0;
}

// Total CPU time of the machine in ns, from /proc/stat (USER_HZ = 100).
uint64_t SystemCpuNs() {
  auto t = ReadFile("/proc/stat");
  if (!t) return 0;
  std::istringstream in(t->substr(0, t->find('\n')));
  std::string cpu;
  in >> cpu;
  uint64_t total = 0, v;
  while (in >> v) total += v;
  return total * 10'000'000ull;
}

}  // namespace

Result<std::string> Engine::TopJson(const std::string& key, const std::string& ps_args) {
  auto r = TRY(Get(key));
  if (r.state.status != "running" && r.state.status != "paused") {
    return Fail(Error(EBUSY, "container " + r.name + " is not running"));
  }
  auto out = TRY_CTX(RunToolChecked({RuntimePath(r.runtime), "--root", cfg_.RuntimeRoot() + "/" + r.runtime, "ps",
                                     "--format", "json", r.id}),
                     "top");
  std::set<std::string> pids;
  try {
    for (const auto& p : json::parse(out)) pids.insert(std::to_string(p.get<long>()));
  } catch (const json::exception&) {
    return FailInvalid("top: the runtime's ps output is not a JSON list of pids");
  }
  std::vector<std::string> argv = {"ps"};
  auto extra = Split(ps_args.empty() ? "-ef" : ps_args, ' ');
  for (auto& a : extra) {
    if (!a.empty()) argv.push_back(a);
  }
  auto table = TRY_CTX(RunToolChecked(argv), "top: ps");
  auto lines = Split(table, '\n');
  if (lines.empty()) return FailInvalid("top: ps printed nothing");
  std::vector<std::string> titles;
  for (auto& t : Split(lines[0], ' ')) {
    if (!t.empty()) titles.push_back(t);
  }
  auto pid_col = std::find(titles.begin(), titles.end(), "PID") - titles.begin();
  if (pid_col == static_cast<long>(titles.size())) {
    return FailInvalid("top: ps arguments \"" + ps_args + "\" print no PID column");
  }
  json procs = json::array();
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cols;
    std::string_view rest = lines[i];
    while (cols.size() + 1 < titles.size()) {
      rest = Trim(rest);
      auto sp = rest.find(' ');
      if (sp == std::string_view::npos) break;
      cols.emplace_back(rest.substr(0, sp));
      rest.remove_prefix(sp);
    }
    rest = Trim(rest);
    if (rest.empty() && cols.size() + 1 < titles.size()) continue;
    cols.emplace_back(rest);
    if (static_cast<long>(cols.size()) > pid_col && pids.contains(cols[static_cast<size_t>(pid_col)])) {
      procs.push_back(cols);
    }
  }
  return json{{"Titles", titles}, {"Processes", procs}}.dump();
}

Result<std::string> Engine::StatsJson(const std::string& key) {
  auto r = TRY(Get(key));
  std::string cg = "/moor/" + r.id;
  json mem = json::object(), cpu = json::object(), pids = json::object(), blkio = json::object();
  uint64_t cpu_ns = 0;
  if (CgroupV1()) {
    std::string m = "/sys/fs/cgroup/memory" + cg;
    mem["usage"] = ReadU64(m + "/memory.usage_in_bytes").value_or(0);
    mem["max_usage"] = ReadU64(m + "/memory.max_usage_in_bytes").value_or(0);
    mem["limit"] = ReadU64(m + "/memory.limit_in_bytes").value_or(0);
    mem["failcnt"] = ReadU64(m + "/memory.failcnt").value_or(0);
    mem["stats"] = {{"cache", KeyedU64(m + "/memory.stat", "cache").value_or(0)},
                    {"rss", KeyedU64(m + "/memory.stat", "rss").value_or(0)}};
    cpu_ns = ReadU64("/sys/fs/cgroup/cpuacct" + cg + "/cpuacct.usage").value_or(0);
    pids["current"] = ReadU64("/sys/fs/cgroup/pids" + cg + "/pids.current").value_or(0);
    if (auto l = ReadFile("/sys/fs/cgroup/pids" + cg + "/pids.max"); l && Trim(*l) != "max") {
      pids["limit"] = ParseUint(Trim(*l)).value_or(0);
    }
    json io = json::array();
    if (auto t = ReadFile("/sys/fs/cgroup/blkio" + cg + "/blkio.throttle.io_service_bytes")) {
      for (const auto& line : Split(*t, '\n')) {
        auto f = Split(line, ' ');
        if (f.size() == 3 && (f[1] == "Read" || f[1] == "Write")) {
          io.push_back({{"major", 0}, {"minor", 0}, {"op", f[1]}, {"value", ParseUint(f[2]).value_or(0)}});
        }
      }
    }
    blkio["io_service_bytes_recursive"] = io;
  } else {
    std::string d = "/sys/fs/cgroup" + cg;
    mem["usage"] = ReadU64(d + "/memory.current").value_or(0);
    auto max = ReadFile(d + "/memory.max");
    mem["limit"] = max && Trim(*max) != "max" ? ParseUint(Trim(*max)).value_or(0) : 0;
    mem["stats"] = {{"file", KeyedU64(d + "/memory.stat", "file").value_or(0)},
                    {"anon", KeyedU64(d + "/memory.stat", "anon").value_or(0)}};
    cpu_ns = KeyedU64(d + "/cpu.stat", "usage_usec").value_or(0) * 1000;
    pids["current"] = ReadU64(d + "/pids.current").value_or(0);
    blkio["io_service_bytes_recursive"] = json::array();
  }
  if (mem["limit"].get<uint64_t>() == 0 || mem["limit"].get<uint64_t>() > (1ull << 62)) {
    mem["limit"] = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  cpu = {{"cpu_usage", {{"total_usage", cpu_ns}}}, {"system_cpu_usage", SystemCpuNs()}, {"online_cpus", ncpu}};
  json nets = json::object();
  if (r.state.pid > 0) {
    if (auto t = ReadFile("/proc/" + std::to_string(r.state.pid) + "/net/dev")) {
      auto lines = Split(*t, '\n');
      for (size_t i = 2; i < lines.size(); ++i) {
        auto colon = lines[i].find(':');
        if (colon == std::string::npos) continue;
        std::string ifname(Trim(lines[i].substr(0, colon)));
        if (ifname == "lo") continue;
        std::istringstream in(lines[i].substr(colon + 1));
        uint64_t v[16] = {};
        for (auto& x : v) in >> x;
        nets[ifname] = {{"rx_bytes", v[0]}, {"rx_packets", v[1]}, {"rx_errors", v[2]}, {"rx_dropped", v[3]},
                        {"tx_bytes", v[8]}, {"tx_packets", v[9]}, {"tx_errors", v[10]}, {"tx_dropped", v[11]}};
      }
    }
  }
  return json{{"read", NowRfc3339Nano()}, {"id", r.id}, {"name", "/" + r.name}, {"cpu_stats", cpu},
              {"memory_stats", mem}, {"pids_stats", pids}, {"blkio_stats", blkio}, {"networks", nets}}
      .dump();
}

Result<std::string> Engine::Update(const std::string& key, const std::string& body) {
  auto c = TRY(Find(key));
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    return FailInvalid("update: request body is not valid JSON");
  }
  std::lock_guard lock(c->mu);
  auto& res = c->rec.config.resources;
  ResourceSpec next = res;
  try {
    if (j.contains("Memory")) next.memory = j["Memory"].get<int64_t>();
    if (j.contains("MemorySwap")) next.memory_swap = j["MemorySwap"].get<int64_t>();
    if (j.contains("NanoCpus")) next.nano_cpus = j["NanoCpus"].get<int64_t>();
    if (j.contains("CpuShares")) next.cpu_shares = j["CpuShares"].get<int64_t>();
    if (j.contains("CpusetCpus")) next.cpuset_cpus = j["CpusetCpus"].get<std::string>();
    if (j.contains("PidsLimit") && !j["PidsLimit"].is_null()) next.pids_limit = j["PidsLimit"].get<int64_t>();
    if (j.contains("BlkioWeight")) next.blkio_weight = j["BlkioWeight"].get<int>();
    if (j.contains("RestartPolicy") && j["RestartPolicy"].is_object()) {
      auto name = j["RestartPolicy"].value("Name", "");
      if (!name.empty()) {
        if (name != "no" && name != "always" && name != "on-failure" && name != "unless-stopped") {
          return FailInvalid("invalid restart policy \"" + name + "\": use no, on-failure[:N], always or unless-stopped");
        }
        c->rec.config.restart.name = name;
        c->rec.config.restart.max_retries = j["RestartPolicy"].value("MaximumRetryCount", 0);
      }
    }
  } catch (const json::exception& e) {
    return FailInvalid(std::string("update: invalid value: ") + e.what());
  }
  if (next.memory != 0 && next.memory < 6 * 1024 * 1024) {
    return FailInvalid("--memory must be at least 6MB");
  }
  if (next.memory_swap > 0 && next.memory > 0 && next.memory_swap < next.memory) {
    return FailInvalid("--memory-swap must be at least --memory (or -1 for unlimited swap)");
  }
  if (next.blkio_weight != 0 && (next.blkio_weight < 10 || next.blkio_weight > 1000)) {
    return FailInvalid("--blkio-weight must be between 10 and 1000");
  }
  if (c->rec.state.status == "running" || c->rec.state.status == "paused") {
    json r = json::object();
    if (next.memory) {
      r["memory"]["limit"] = next.memory;
      int64_t swap = next.memory_swap == 0 ? 2 * next.memory : next.memory_swap;
      r["memory"]["swap"] = swap;
    }
    if (next.nano_cpus) {
      r["cpu"]["period"] = 100000;
      r["cpu"]["quota"] = next.nano_cpus / 10000;
    }
    if (next.cpu_shares) r["cpu"]["shares"] = next.cpu_shares;
    if (!next.cpuset_cpus.empty()) r["cpu"]["cpus"] = next.cpuset_cpus;
    if (next.pids_limit) r["pids"]["limit"] = next.pids_limit;
    if (next.blkio_weight) r["blockIO"]["weight"] = next.blkio_weight;
    TRY_CTX(RunToolChecked({RuntimePath(c->rec.runtime), "--root", cfg_.RuntimeRoot() + "/" + c->rec.runtime,
                            "update", "--resources", "-", c->rec.id},
                           r.dump()),
            "update container " + c->rec.name);
  }
  res = next;
  TRY(Save(*c));
  Publish(c->rec, "update");
  return json{{"Warnings", json::array()}}.dump();
}

}  // namespace moor::engine
