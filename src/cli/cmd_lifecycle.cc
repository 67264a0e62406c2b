// start, stop, restart, kill, rm, pause, unpause, rename, wait, update and
// container prune. Commands taking several containers go on after a failure
// (printing it) and exit 1 at the end, as docker does.
#include <cstdio>

#include "cli/container_flags.h"
#include "cli/container_session.h"
#include "cli/daemon_client.h"
#include "cli/table.h"
#include "cli/units.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

// Runs fn for each named container; prints the name on success.
Result<int> ForEach(const std::vector<std::string>& names, const std::string& usage,
                    const std::function<Result<void>(const std::string&)>& fn, bool print_name = true) {
  if (names.empty()) return FailInvalid(usage);
  int rc = 0;
  for (auto& n : names) {
    auto r = fn(n);
    if (!r) {
      std::fprintf(stderr, "moor: %s\n", r.error().message().c_str());
      rc = 1;
    } else if (print_name) {
      Out(n + "\n");
    }
  }
  return rc;
}

std::string C(const std::string& ref) {
  return "/containers/" + Esc(ref);
}

}  // namespace

Result<int> CmdStart(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"attach", "a", false, false}, {"interactive", "i", false, false}}));
  auto d = TRY(Daemon::Connect(g));
  if (a.Bool("attach") || a.Bool("interactive")) {
    if (a.positional.size() != 1) return FailInvalid("start -a: give exactly one container");
    auto info = TRY(InspectContainer(d, a.positional[0]));
    bool tty = info.contains("Config") && info["Config"].value("Tty", false);
    auto rc =
        RunAttached(d, info.value("Id", a.positional[0]), tty, a.Bool("interactive"), true, "next-exit");
    if (!rc) return Fail(StartError(std::move(rc.error())));
    return *rc;
  }
  return ForEach(a.positional, "start: usage: moor start [-a] [-i] CONTAINER...", [&](const std::string& n) {
    auto r = d.Call("POST", C(n) + "/start");
    if (!r) return Result<void>(Fail(StartError(std::move(r.error()))));
    return Result<void>();
  });
}

Result<int> CmdStop(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"time", "t", true, false}, {"signal", "s", true, false}}));
  std::string q;
  if (a.Has("time")) {
    auto t = ParseInt(a.Get("time"));
    if (!t) return FailInvalid("stop: -t must be a number of seconds");
    q = "?t=" + std::to_string(*t);
  }
  if (a.Has("signal")) q += (q.empty() ? "?" : "&") + std::string("signal=") + Esc(a.Get("signal"));
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "stop: usage: moor stop [-t SECONDS] [-s SIGNAL] CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   TRY(d.Call("POST", C(n) + "/stop" + q));
                   return {};
                 });
}

Result<int> CmdRestart(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"time", "t", true, false}}));
  std::string q;
  if (a.Has("time")) {
    auto t = ParseInt(a.Get("time"));
    if (!t) return FailInvalid("restart: -t must be a number of seconds");
    q = "?t=" + std::to_string(*t);
  }
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "restart: usage: moor restart [-t SECONDS] CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   auto r = d.Call("POST", C(n) + "/restart" + q);
                   if (!r && IsNoSuchContainer(r.error())) {
                     // In an app's directory, `moor restart SERVICE` restarts the
                     // service's containers one at a time.
                     std::vector<std::string> app_args = {n};
                     if (a.Has("time")) app_args = {"-t", a.Get("time"), n};
                     if (auto rc = AppServiceFallback(g, CmdAppRestart, n, app_args)) {
                       int code = TRY(std::move(*rc));
                       if (code != 0) return FailInvalid("restart " + n + ": exit status " + std::to_string(code));
                       return {};
                     }
                   }
                   TRY(std::move(r));
                   return {};
                 });
}

Result<int> CmdKill(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"signal", "s", true, false}}));
  std::string q = a.Has("signal") ? "?signal=" + Esc(a.Get("signal")) : "";
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "kill: usage: moor kill [-s SIGNAL] CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   TRY(d.Call("POST", C(n) + "/kill" + q));
                   return {};
                 });
}

Result<int> CmdRm(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"force", "f", false, false}, {"volumes", "v", false, false}}));
  std::string q =
      std::string("?force=") + (a.Bool("force") ? "1" : "0") + "&v=" + (a.Bool("volumes") ? "1" : "0");
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "rm: usage: moor rm [-f] [-v] CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   TRY(d.Call("DELETE", C(n) + q));
                   return {};
                 });
}

Result<int> CmdPause(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "pause: usage: moor pause CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   TRY(d.Call("POST", C(n) + "/pause"));
                   return {};
                 });
}

Result<int> CmdUnpause(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "unpause: usage: moor unpause CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   TRY(d.Call("POST", C(n) + "/unpause"));
                   return {};
                 });
}

Result<int> CmdRename(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  if (a.positional.size() != 2) return FailInvalid("rename: usage: moor rename CONTAINER NEW_NAME");
  auto d = TRY(Daemon::Connect(g));
  TRY(d.Call("POST", C(a.positional[0]) + "/rename?name=" + Esc(a.positional[1])));
  return 0;
}

Result<int> CmdWait(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  auto d = TRY(Daemon::Connect(g));
  return ForEach(
      a.positional, "wait: usage: moor wait CONTAINER...",
      [&](const std::string& n) -> Result<void> {
        auto r = TRY(d.Call("POST", C(n) + "/wait"));
        // The body may hold progress whitespace before the final object.
        auto start = r.body.rfind('{');
        json w = TRY(ParseJson(start == std::string::npos ? r.body : r.body.substr(start), "wait"));
        if (!w.is_object()) return FailInvalid("wait: no status from the daemon");
        Out(std::to_string(w.value("StatusCode", 0)) + "\n");
        return {};
      },
      /*print_name=*/false);
}

// Flag values of update → its body. Bad values exit 125, as run's do.
static Result<json> UpdateBody(const ParsedArgs& a) {
  json body = json::object();
  if (a.Has("memory")) body["Memory"] = TRY_CTX(ParseBytes(a.Get("memory")), "--memory");
  if (a.Has("memory-swap")) {
    body["MemorySwap"] = a.Get("memory-swap") == "-1"
                             ? int64_t{-1}
                             : TRY_CTX(ParseBytes(a.Get("memory-swap")), "--memory-swap");
  }
  if (a.Has("cpus")) body["NanoCpus"] = TRY(ParseNanoCpus(a.Get("cpus")));
  if (a.Has("cpu-shares")) {
    auto v = ParseInt(a.Get("cpu-shares"));
    if (!v || *v < 0) return FailInvalid("--cpu-shares: want a non-negative integer");
    body["CpuShares"] = *v;
  }
  if (a.Has("cpuset-cpus")) body["CpusetCpus"] = a.Get("cpuset-cpus");
  if (a.Has("pids-limit")) {
    auto v = ParseInt(a.Get("pids-limit"));
    if (!v || *v < -1) return FailInvalid("--pids-limit: want an integer (-1 for unlimited)");
    body["PidsLimit"] = *v;
  }
  if (a.Has("blkio-weight")) {
    auto v = ParseInt(a.Get("blkio-weight"));
    if (!v || (*v != 0 && (*v < 10 || *v > 1000))) return FailInvalid("--blkio-weight: want 10 to 1000");
    body["BlkioWeight"] = *v;
  }
  if (a.Has("restart")) body["RestartPolicy"] = TRY(ParseRestartPolicy(a.Get("restart")));
  if (body.empty()) return FailInvalid("update: give at least one option to change (see --help)");
  return body;
}

Result<int> CmdUpdate(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"memory", "m", true, false},
                                   {"memory-swap", "", true, false},
                                   {"cpus", "", true, false},
                                   {"cpu-shares", "c", true, false},
                                   {"cpuset-cpus", "", true, false},
                                   {"pids-limit", "", true, false},
                                   {"blkio-weight", "", true, false},
                                   {"restart", "", true, false}}));
  auto built = UpdateBody(a);
  if (!built) return Fail(std::move(built.error()).WithExitCode(125));
  json body = std::move(*built);
  auto d = TRY(Daemon::Connect(g));
  return ForEach(a.positional, "update: usage: moor update [OPTIONS] CONTAINER...",
                 [&](const std::string& n) -> Result<void> {
                   auto r = TRY(d.PostJson(C(n) + "/update", body));
                   if (r.is_object() && r.contains("Warnings") && r["Warnings"].is_array()) {
                     for (auto& w : r["Warnings"]) {
                       if (w.is_string()) std::fprintf(stderr, "WARNING: %s\n", w.get<std::string>().c_str());
                     }
                   }
                   return {};
                 });
}

Result<int> CmdContainerPrune(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"force", "f", false, false}, {"filter", "", true, true}}));
  auto d = TRY(Daemon::Connect(g));
  std::string f = TRY(FiltersQuery(a.All("filter")));
  auto r = TRY(d.PostJson("/containers/prune" + (f.empty() ? "" : "?filters=" + f)));
  std::string out;
  if (r.is_object() && r.contains("ContainersDeleted") && r["ContainersDeleted"].is_array() &&
      !r["ContainersDeleted"].empty()) {
    out += "Deleted Containers:\n";
    for (auto& id : r["ContainersDeleted"]) out += id.get<std::string>() + "\n";
    out += "\n";
  }
  out +=
      "Total reclaimed space: " + HumanSize(r.is_object() ? r.value("SpaceReclaimed", int64_t{0}) : 0) + "\n";
  Out(out);
  return 0;
}

}  // namespace moor::cli
