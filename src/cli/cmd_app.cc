// The app commands (docs/moor-yaml.md): moor up, down, scale, and moor app
// ps, logs, restart — app::AppExecutor over the daemon (daemon_app_backend.h).
// Every one finds its app by -f FILE (default: moor.yaml or compose.yaml … in
// the current directory) and -p NAME (overrides the file's name); containers,
// networks and volumes are found by their moor.app label.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "app/app_executor.h"
#include "app/app_file.h"
#include "cli/container_session.h"
#include "cli/daemon_app_backend.h"
#include "cli/daemon_client.h"
#include "cli/stream_demux.h"
#include "cli/table.h"
#include "cli/time_arg.h"
#include "common/file.h"
#include "common/strings.h"
#include "runtime/self_exe.h"

namespace moor::cli {

using nlohmann::json;

namespace {

const FlagSpec kFile{"file", "f", true, false};
const FlagSpec kFileLong{"file", "", true, false};  // logs: -f is --follow, as `moor logs`
const FlagSpec kProject{"project-name", "p", true, false};
const FlagSpec kProfile{"profile", "", true, true};

std::vector<FlagSpec> With(std::vector<FlagSpec> specs, bool short_file = true) {
  specs.push_back(short_file ? kFile : kFileLong);
  specs.push_back(kProject);
  specs.push_back(kProfile);
  return specs;
}

// Loads the app file -f (default: found in "."), -p overriding its name. On
// an invalid file every diagnostic goes to stderr and the error is
// "FILE: N errors, nothing done" (exit 1). bare_ok: with -p and no file
// found (or an invalid one, for down), an app of that name alone (everything
// is found by label).
Result<app::AppFile> LoadApp(const ParsedArgs& a, bool bare_ok) {
  std::string project = a.Get("project-name");
  auto bare = [&] {
    app::AppFile f;
    f.name = project;
    f.dir = ".";
    f.path = "(no app file)";
    return f;
  };
  std::string path;
  if (a.Has("file")) {
    path = a.Get("file");
  } else {
    auto found = app::FindAppFile(".");
    if (!found) {
      if (bare_ok && !project.empty()) return bare();
      return Fail(std::move(found.error()));
    }
    path = *found;
  }
  auto text = ReadFile(path);
  if (!text) {
    if (bare_ok && !project.empty() && !a.Has("file")) return bare();
    return FailInvalid("cannot read " + path + ": " + text.error().message() + " — give the app file with -f FILE");
  }
  std::vector<app::Diagnostic> errors;
  app::AppFile f = app::ParseAppFile(*text, path, a.All("profile"), &errors);
  if (!errors.empty()) {
    for (auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return Fail(Error(EINVAL, path + ": " + std::to_string(errors.size()) + " error" +
                                  (errors.size() == 1 ? "" : "s") + ", nothing done")
                    .WithExitCode(1));
  }
  if (!project.empty()) f.name = project;
  return f;
}

void Progress(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

// An error of `up` about the file itself ("FILE:LINE:COL: …", e.g. a missing
// image) is printed like the file's other diagnostics, with their summary.
Result<void> AsDiagnostic(Result<void> r, const app::AppFile& app) {
  if (r || !StartsWith(r.error().message(), app.path + ":")) return r;
  std::fprintf(stderr, "%s\n", r.error().message().c_str());
  return Fail(Error(EINVAL, app.path + ": 1 error, nothing done").WithExitCode(1));
}

// "php=3" → {"php", 3}.
Result<std::pair<std::string, int>> ScaleArg(const std::string& cmd, const std::string& s) {
  auto eq = s.find('=');
  auto n = eq == std::string::npos ? std::nullopt : ParseInt(s.substr(eq + 1));
  if (eq == std::string::npos || eq == 0 || !n || *n < 0 || *n > 10000)
    return FailInvalid(cmd + ": \"" + s + "\": want SERVICE=REPLICAS, e.g. php=3");
  return std::pair{s.substr(0, eq), static_cast<int>(*n)};
}

Result<int64_t> DurationArg(const std::string& cmd, const std::string& flag, const std::string& v) {
  auto ns = ParseDurationNs(v);
  if (!ns || *ns <= 0) return FailInvalid(cmd + ": " + flag + " \"" + v + "\": want a duration like 2m or 90s");
  return *ns;
}

Result<int64_t> SecondsArg(const std::string& cmd, const std::string& v) {
  auto n = ParseInt(v);
  if (!n || *n < 0) return FailInvalid(cmd + ": -t \"" + v + "\": want a number of seconds, e.g. -t 10");
  return *n * 1'000'000'000;
}

std::string Label(const app::ContainerStatus& c, const char* key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? "" : it->second;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Running(const std::string& state) { return state == "running" || state == "restarting" || state == "paused"; }

// ---- logs ------------------------------------------------------------------

// Writes whole lines "NAME | text" to stdout; one lock for every container,
// so lines never interleave mid-line.
class LinePrinter {
 public:
  void Line(const std::string& name, std::string_view text) {
    std::string s = name + " | ";
    s.append(text);
    s += '\n';
    std::lock_guard lock(mu_);
    Out(s);
  }

 private:
  std::mutex mu_;
};

// Cuts a byte stream into lines per (stream) and hands them over.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> emit) : emit_(std::move(emit)) {}
  void Feed(int stream, std::string_view data) {
    std::string& buf = bufs_[stream];
    buf.append(data);
    size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      std::string_view line(buf.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      emit_(line);
      start = nl + 1;
    }
    buf.erase(0, start);
  }
  void Flush() {
    for (auto& [_, buf] : bufs_) {
      if (!buf.empty()) emit_(buf);
      buf.clear();
    }
  }

 private:
  std::function<void(std::string_view)> emit_;
  std::map<int, std::string> bufs_;
};

// Streams one container's logs (multiplexed, or raw with a TTY) into lines.
Result<void> StreamLines(Daemon& d, const std::string& id, const std::string& query,
                         const std::function<void(std::string_view)>& on_line,
                         const std::function<bool()>& keep_going = nullptr) {
  bool tty = false;
  if (auto info = InspectContainer(d, id)) {
    tty = info->contains("Config") && (*info)["Config"].is_object() && (*info)["Config"].value("Tty", false);
  }
  LineSplitter lines(on_line);
  StreamDemuxer demux([&](int stream, std::string_view data) { lines.Feed(stream, data); });
  Result<void> fed;
  auto r = d.StreamBody("GET", "/containers/" + Esc(id) + "/logs" + query, [&](std::string_view piece) {
    if (tty) {
      lines.Feed(1, piece);
    } else {
      fed = demux.Feed(piece);
      if (!fed) return false;
    }
    return !keep_going || keep_going();
  });
  lines.Flush();
  TRY(r);
  TRY(fed);
  return {};
}

struct LogQuery {
  std::string tail;  // "" = all
  std::string since, until;
  bool timestamps = false;
};

std::string QueryString(const LogQuery& q, bool follow, bool timestamps) {
  std::string s = "?stdout=1&stderr=1";
  if (follow) s += "&follow=1";
  if (timestamps) s += "&timestamps=1";
  if (!q.tail.empty()) s += "&tail=" + q.tail;
  if (!q.since.empty()) s += "&since=" + q.since;
  if (!q.until.empty()) s += "&until=" + q.until;
  return s;
}

// A sortable key from a log line's leading timestamp ("2024-…T…[.frac]Z …"):
// the fraction padded to nanoseconds.
std::string TimeKey(std::string_view line) {
  auto sp = line.find(' ');
  std::string_view ts = line.substr(0, sp == std::string_view::npos ? 0 : sp);
  if (ts.size() < 19) return "";
  std::string key(ts.substr(0, 19));
  std::string frac;
  if (ts.size() > 20 && ts[19] == '.') {
    for (size_t i = 20; i < ts.size() && ts[i] >= '0' && ts[i] <= '9'; ++i) frac += ts[i];
  }
  frac.resize(9, '0');
  return key + "." + frac;
}

// The logs so far of every container, merged in time order.
Result<void> PrintLogs(Daemon& d, const std::vector<app::ContainerStatus>& list, const LogQuery& q) {
  struct Line {
    std::string key, name, text;
  };
  std::vector<Line> all;
  for (auto& c : list) {
    std::vector<Line> mine;
    auto r = StreamLines(d, c.id, QueryString(q, false, true), [&](std::string_view line) {
      std::string key = TimeKey(line);
      if (!q.timestamps && !key.empty()) line.remove_prefix(std::min(line.size(), line.find(' ') + 1));
      mine.push_back({key, c.name, std::string(line)});
    });
    if (!r) {
      if (Lower(r.error().message()).find("no such container") != std::string::npos) continue;
      return Fail(std::move(r.error()).Wrap(c.name));
    }
    for (auto& l : mine) all.push_back(std::move(l));
  }
  std::stable_sort(all.begin(), all.end(), [](const Line& a, const Line& b) { return a.key < b.key; });
  std::string out;
  for (auto& l : all) out += l.name + " | " + l.text + "\n";
  Out(out);
  return {};
}

std::string UnixNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(ts.tv_sec), ts.tv_nsec);
  return buf;
}

// Follows the logs of the app's containers (those of `services`, all when
// empty), one thread each, picking up containers that appear or start again,
// until SIGINT / SIGTERM (blocked here and waited for) — or, without
// `until_signal`, until the containers all stopped and none is left running.
// Returns the signal (0 when none came).
int FollowApp(const Globals& g, DaemonAppBackend& b, const std::string& app, const std::set<std::string>& services,
              const LogQuery& q, bool until_signal) {
  struct Follower {
    std::thread thread;
    std::atomic<bool> done{false};
    std::string ended_at;  // for the next follow's since=
  };
  auto printer = std::make_shared<LinePrinter>();
  auto stop = std::make_shared<std::atomic<bool>>(false);
  std::map<std::string, std::shared_ptr<Follower>> followers;  // by container ID
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  bool first = true;
  int sig = 0;
  for (;;) {
    auto list = b.ListContainers(app);
    if (list) {
      size_t alive = 0;
      for (auto& c : *list) {
        if (!services.empty() && !services.count(Label(c, app::kLabelService))) continue;
        auto& f = followers[c.id];
        if (f && !f->done) {
          ++alive;
          continue;
        }
        if (!Running(c.state) && !first) continue;
        LogQuery cq = q;
        if (f) {
          if (f->thread.joinable()) f->thread.join();
          if (!Running(c.state)) continue;
          cq.tail.clear();
          cq.since = f->ended_at;  // started again: what came after
        } else if (!first) {
          cq.tail.clear();  // a new container: from its beginning
          cq.since.clear();
        }
        auto nf = std::make_shared<Follower>();
        std::string name = c.name, id = c.id;
        bool ts = q.timestamps;
        nf->thread = std::thread([nf, printer, stop, name, id, cq, ts, g] {
          auto d = Daemon::Connect(g);
          if (d) {
            (void)StreamLines(
                *d, id, QueryString(cq, true, ts), [&](std::string_view line) { printer->Line(name, line); },
                [stop] { return !stop->load(); });
          }
          nf->ended_at = UnixNow();
          nf->done = true;
        });
        f = nf;
        ++alive;
      }
      if (!until_signal && alive == 0 && !first) break;
    }
    first = false;
    timespec wait{1, 0};
    int s = sigtimedwait(&set, nullptr, &wait);
    if (s == SIGINT || s == SIGTERM) {
      sig = s;
      break;
    }
  }
  stop->store(true);
  // Threads blocked on a quiet stream end when the container stops (or the
  // process exits); the others are joined.
  for (auto& [_, f] : followers) {
    if (f && f->thread.joinable()) {
      if (f->done)
        f->thread.join();
      else
        f->thread.detach();
    }
  }
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  return sig;
}

// Stops the app's running containers, dependents first, each with its
// service's stop_grace_period.
Result<void> StopApp(DaemonAppBackend& b, const app::AppFile& app) {
  auto list = TRY(b.ListContainers(app.name));
  auto order = app::StartOrder(app);
  std::reverse(order.begin(), order.end());
  std::set<std::string> known(order.begin(), order.end());
  for (auto& c : list) {
    if (!known.count(Label(c, app::kLabelService))) order.push_back(Label(c, app::kLabelService));
  }
  std::set<std::string> seen;
  for (auto& svc : order) {
    if (!seen.insert(svc).second) continue;
    auto it = app.services.find(svc);
    int64_t grace = it == app.services.end() ? -1 : it->second.stop_grace_period_ns;
    for (auto& c : list) {
      if (Label(c, app::kLabelService) != svc || !Running(c.state)) continue;
      auto r = b.Stop(c.id, grace);
      if (!r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()).Wrap("stop " + c.name));
      Progress(c.name + ": stopped");
    }
  }
  return {};
}

Result<LogQuery> LogQueryFrom(const ParsedArgs& a) {
  LogQuery q;
  q.timestamps = a.Bool("timestamps");
  int64_t now = static_cast<int64_t>(time(nullptr));
  if (a.Has("since")) q.since = TRY_CTX(UnixTimeArg(a.Get("since"), now), "--since");
  if (a.Has("until")) q.until = TRY_CTX(UnixTimeArg(a.Get("until"), now), "--until");
  if (a.Has("tail")) {
    q.tail = a.Get("tail");
    if (q.tail == "all") q.tail.clear();
    else if (!ParseInt(q.tail) || *ParseInt(q.tail) < 0)
      return FailInvalid("logs: --tail \"" + a.Get("tail") + "\": want a number of lines or \"all\"");
  }
  return q;
}

// ---- ps ----------------------------------------------------------------------

std::string StatusText(const app::ContainerStatus& c) {
  if (c.state == "exited" || c.state == "dead") return c.state + " (" + std::to_string(c.exit_code) + ")";
  std::string s = c.state;
  if (c.state == "running" && !c.health.empty()) s += " (" + c.health + ")";
  if (c.state == "restarting" && c.restart_count) s += " (" + std::to_string(c.restart_count) + " restarts)";
  return s;
}

// "2/2 passing", "pending" (none checked yet), "-" (not a discovery service).
std::string RegisteredText(const json& reg) {
  if (!reg.is_object() || !reg.contains("Instances") || !reg["Instances"].is_array() || reg["Instances"].empty())
    return "-";
  size_t n = reg["Instances"].size(), passing = 0, pending = 0;
  for (auto& i : reg["Instances"]) {
    std::string s = i.is_object() ? i.value("Status", "") : "";
    if (s == "passing" || s == "warning") ++passing;
    if (s == "pending" || s.empty()) ++pending;
  }
  if (pending == n) return "pending";
  return std::to_string(passing) + "/" + std::to_string(n) + " passing";
}

json RegistrationJson(Daemon& d, const std::string& id) {
  auto r = d.http().Do("GET", "/v1/moor/registration/" + Esc(id), {}, {});
  if (!r || r->status != 200) return nullptr;
  return json::parse(r->body, nullptr, false);
}

}  // namespace

// ---- commands ----------------------------------------------------------------

Result<int> CmdUp(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, With({{"detach", "d", false, false},
                                        {"wait", "", false, false},
                                        {"build", "", false, false},
                                        {"pull", "", true, false},
                                        {"no-orphans", "", false, false},
                                        {"remove-orphans", "", false, false},
                                        {"scale", "", true, true},
                                        {"timeout", "", true, false},
                                        {"quiet", "q", false, false}})));
  app::UpOptions o;
  o.services = a.positional;
  o.wait = a.Bool("wait");
  o.build = a.Bool("build");
  o.pull = a.Get("pull", "missing");
  if (o.pull != "missing" && o.pull != "always" && o.pull != "never")
    return FailInvalid("up: --pull \"" + o.pull + "\": use missing, always or never");
  // Orphans go by default (the file is the truth); --no-orphans keeps them.
  o.remove_orphans = !a.Bool("no-orphans");
  for (auto& s : a.All("scale")) {
    auto [svc, n] = TRY(ScaleArg("up: --scale", s));
    o.scale[svc] = n;
  }
  if (a.Has("timeout")) o.timeout_ns = TRY(DurationArg("up", "--timeout", a.Get("timeout")));
  auto app = TRY(LoadApp(a, false));
  auto d = TRY(Daemon::Connect(g));
  DaemonAppBackend b(d, g, a.Bool("quiet"));
  // A build's RUN steps enter containers from this process, which must run
  // sealed (as `moor build`): re-executed before anything is done.
  if (g.argv && !runtime::SelfIsSealed()) {
    bool builds = false;
    for (auto& [name, s] : app.services) {
      if (!s.build || (!o.services.empty() && std::find(o.services.begin(), o.services.end(), name) == o.services.end()))
        continue;
      builds = builds || o.build || TRY(b.ImageId(s.image)).empty();
    }
    if (builds) TRY(runtime::EnsureSealedSelf(g.argv, g.envp, runtime::kSelfCopyDir));
  }
  app::AppExecutor ex(b, Progress);
  LogQuery since_up;
  since_up.since = UnixNow();
  TRY(AsDiagnostic(ex.Up(app, o), app));
  if (a.Bool("detach")) return 0;
  // Attached, as compose: the containers' output until Ctrl-C, then they stop.
  std::set<std::string> services(o.services.begin(), o.services.end());
  int sig = FollowApp(g, b, app.name, services, since_up, /*until_signal=*/true);
  if (sig) Progress("Stopping " + app.name + " (Ctrl-C again to leave the containers running)");
  TRY(StopApp(b, app));
  return 0;
}

Result<int> CmdDown(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(
      args, With({{"volumes", "v", false, false}, {"time", "t", true, false}, {"remove-orphans", "", false, false}})));
  if (!a.positional.empty())
    return FailInvalid("down: unexpected argument \"" + a.positional[0] + "\"; usage: moor down [-v] [-t SECONDS]");
  app::DownOptions o;
  o.volumes = a.Bool("volumes");
  if (a.Has("time")) o.timeout_ns = TRY(SecondsArg("down", a.Get("time")));
  auto app = TRY(LoadApp(a, true));
  auto d = TRY(Daemon::Connect(g));
  DaemonAppBackend b(d, g);
  app::AppExecutor ex(b, Progress);
  TRY(ex.Down(app, o));
  return 0;
}

Result<int> CmdScale(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, With({{"timeout", "", true, false}, {"wait", "", false, false}})));
  if (a.positional.empty()) return FailInvalid("scale: usage: moor scale SERVICE=REPLICAS... (e.g. moor scale php=5)");
  app::UpOptions o;
  o.remove_orphans = false;
  o.wait = a.Bool("wait");
  for (auto& s : a.positional) {
    auto [svc, n] = TRY(ScaleArg("scale", s));
    o.scale[svc] = n;
    o.services.push_back(svc);
  }
  if (a.Has("timeout")) o.timeout_ns = TRY(DurationArg("scale", "--timeout", a.Get("timeout")));
  auto app = TRY(LoadApp(a, false));
  auto d = TRY(Daemon::Connect(g));
  DaemonAppBackend b(d, g);
  app::AppExecutor ex(b, Progress);
  TRY(AsDiagnostic(ex.Up(app, o), app));
  return 0;
}

Result<int> CmdAppPs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(
      args, With({{"all", "a", false, false}, {"quiet", "q", false, false}, {"format", "", true, false}})));
  std::string format = a.Get("format");
  if (!format.empty() && format != "json" && format != "table")
    return FailInvalid("app ps: --format \"" + format + "\": use json or table");
  auto app = TRY(LoadApp(a, true));
  std::set<std::string> services(a.positional.begin(), a.positional.end());
  for (auto& s : services) {
    if (!app.services.empty() && !app.services.count(s))
      return FailInvalid("app ps: no service \"" + s + "\" in " + app.path);
  }
  auto d = TRY(Daemon::Connect(g));
  DaemonAppBackend b(d, g);
  auto list = TRY(b.ListContainers(app.name));
  Table t({"NAME", "SERVICE", "STATUS", "REGISTERED", "PORTS"});
  json rows = json::array();
  std::string ids;
  for (auto& c : list) {
    std::string svc = Label(c, app::kLabelService);
    if (!services.empty() && !services.count(svc)) continue;
    if (!a.Bool("all") && !Running(c.state)) continue;
    if (a.Bool("quiet")) {
      ids += c.id + "\n";
      continue;
    }
    json reg = c.state == "running" ? RegistrationJson(d, c.id) : json(nullptr);
    std::string registered = RegisteredText(reg);
    t.Add({c.name, svc, StatusText(c), registered, c.ports});
    rows.push_back({{"ID", c.id},
                    {"Name", c.name},
                    {"Service", svc},
                    {"Replica", Label(c, app::kLabelReplica)},
                    {"State", c.state},
                    {"Health", c.health},
                    {"ExitCode", c.exit_code},
                    {"Status", StatusText(c)},
                    {"Registered", registered},
                    {"Instances", reg.is_object() && reg.contains("Instances") ? reg["Instances"] : json::array()},
                    {"IPAddress", c.ip},
                    {"Ports", c.ports}});
  }
  if (a.Bool("quiet")) Out(ids);
  else if (format == "json") Out(rows.dump(2) + "\n");
  else Out(t.Render());
  return 0;
}

Result<int> CmdAppLogs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, With({{"follow", "f", false, false},
                                        {"tail", "n", true, false},
                                        {"timestamps", "t", false, false},
                                        {"since", "", true, false},
                                        {"until", "", true, false}},
                                       /*short_file=*/false)));
  auto q = TRY(LogQueryFrom(a));
  auto app = TRY(LoadApp(a, true));
  std::set<std::string> services(a.positional.begin(), a.positional.end());
  for (auto& s : services) {
    if (!app.services.empty() && !app.services.count(s))
      return FailInvalid("logs: no service \"" + s + "\" in " + app.path);
  }
  auto d = TRY(Daemon::Connect(g));
  DaemonAppBackend b(d, g);
  if (a.Bool("follow")) {
    FollowApp(g, b, app.name, services, q, /*until_signal=*/true);
    return 0;
  }
  auto list = TRY(b.ListContainers(app.name));
  std::vector<app::ContainerStatus> mine;
  for (auto& c : list) {
    if (services.empty() || services.count(Label(c, app::kLabelService))) mine.push_back(c);
  }
  TRY(PrintLogs(d, mine, q));
  return 0;
}

Result<int> CmdAppRestart(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, With({{"time", "t", true, false}, {"timeout", "", true, false}})));
  int64_t ready_timeout = 120'000'000'000;
  if (a.Has("timeout")) ready_timeout = TRY(DurationArg("restart", "--timeout", a.Get("timeout")));
  auto app = TRY(LoadApp(a, false));
  if (a.Has("time")) {
    // -t: the stop timeout, instead of each service's stop_grace_period.
    int64_t t = TRY(SecondsArg("restart", a.Get("time")));
    for (auto& [_, s] : app.services) s.stop_grace_period_ns = t;
  }
  auto d = TRY(Daemon::Connect(g));
  DaemonAppBackend b(d, g);
  app::AppExecutor ex(b, Progress);
  TRY(ex.Restart(app, a.positional, ready_timeout));
  return 0;
}

std::optional<Result<int>> AppServiceFallback(const Globals& g, Command cmd, const std::string& service,
                                              const std::vector<std::string>& args) {
  auto path = app::FindAppFile(".");
  if (!path) return std::nullopt;
  auto app = app::LoadAppFile(*path);
  if (!app || !app->services.count(service)) return std::nullopt;
  return cmd(g, args);
}

bool IsNoSuchContainer(const Error& e) {
  return Lower(e.message()).find("no such container") != std::string::npos;
}

}  // namespace moor::cli
