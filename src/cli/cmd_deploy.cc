// moor deploy, moor releases, moor rollback, moor releases prune and moor
// deploy token (docs/design/deploy.md, docs/api.md "Deploys"). The app and
// service come from the app file (-f, else the one in "."; -p overrides its
// name); the daemon is the local socket, or with --remote (MOOR_DEPLOY_REMOTE)
// a node's TLS endpoint.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "api/transport.h"
#include "app/app_file.h"
#include "cli/daemon_client.h"
#include "cli/deploy_client.h"
#include "cli/table.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/core/digest.h"

namespace moor::cli {

using nlohmann::json;

namespace {

const FlagSpec kFile{"file", "f", true, false};
const FlagSpec kProject{"project-name", "p", true, false};
const FlagSpec kProfile{"profile", "", true, true};
const std::vector<FlagSpec> kRemoteFlags = {
    {"remote", "", true, false}, {"token-file", "", true, false}, {"cert", "", true, false},
    {"key", "", true, false},    {"cacert", "", true, false},
};

std::vector<FlagSpec> With(std::vector<FlagSpec> specs, bool remote) {
  specs.push_back(kFile);
  specs.push_back(kProject);
  specs.push_back(kProfile);
  if (remote) specs.insert(specs.end(), kRemoteFlags.begin(), kRemoteFlags.end());
  return specs;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The app file: -f, else the one in "." (as `moor up`), -p overriding its
// name. With -p and no file: an app of that name without services.
Result<app::AppFile> LoadApp(const std::string& cmd, const ParsedArgs& a) {
  std::string project = a.Get("project-name");
  std::string path;
  if (a.Has("file")) {
    path = a.Get("file");
  } else {
    auto found = app::FindAppFile(".");
    if (!found) {
      if (project.empty()) {
        return FailInvalid(cmd + ": " + found.error().message() +
                           " — give the app file with -f FILE or its name with -p NAME");
      }
      app::AppFile f;
      f.name = project;
      f.dir = ".";
      f.path = "(no app file)";
      return f;
    }
    path = *found;
  }
  auto text = ReadFile(path);
  if (!text)
    return FailInvalid(cmd + ": cannot read " + path + ": " + text.error().message() +
                       " — give the app file with -f FILE");
  std::vector<app::Diagnostic> errors;
  app::AppFile f = app::ParseAppFile(*text, path, a.All("profile"), &errors);
  if (!errors.empty()) {
    for (auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return Fail(Error(EINVAL, path + ": " + std::to_string(errors.size()) + " error" + (errors.size() == 1 ? "" : "s") +
                                  ", nothing done")
                    .WithExitCode(1));
  }
  if (!project.empty()) f.name = project;
  return f;
}

// The services with code.source, sorted.
std::vector<std::string> CodeServices(const app::AppFile& app) {
  std::vector<std::string> out;
  for (auto& [name, s] : app.services) {
    if (s.code && !s.code->source.empty()) out.push_back(name);
  }
  return out;
}

// SERVICE as given, else the only service with code.source.
Result<std::string> PickService(const std::string& cmd, const app::AppFile& app, const std::string& given) {
  if (!given.empty()) {
    if (!app.services.empty() && !app.services.count(given))
      return FailInvalid(
          cmd + ": no service \"" + given + "\" in " + app.path + "; services with code: " +
          (CodeServices(app).empty() ? std::string("none (add a code: block)") : Join(CodeServices(app), ", ")));
    return given;
  }
  auto code = CodeServices(app);
  if (code.size() == 1) return code[0];
  if (code.empty()) {
    return FailInvalid(cmd + ": no service in " + app.path + " has code.source; give the service: moor " + cmd +
                       " SERVICE");
  }
  return FailInvalid(cmd + ": " + app.path + " has several services with code (" + Join(code, ", ") +
                     "); give one: moor " + cmd + " SERVICE");
}

// The daemon: --remote (else $MOOR_DEPLOY_REMOTE) over TLS, else the socket.
Result<std::unique_ptr<api::Transport>> OpenTransport(const std::string& cmd, const Globals& g, const ParsedArgs& a) {
  std::string remote = a.Has("remote") ? a.Get("remote") : Env("MOOR_DEPLOY_REMOTE");
  if (remote.empty()) {
    for (const char* f : {"token-file", "cert", "key", "cacert"}) {
      if (a.Has(f)) return FailInvalid(cmd + ": --" + std::string(f) + " needs --remote https://HOST:PORT");
    }
    return api::MakeUnixTransport(TRY(DaemonSocketPath(g.host)));
  }
  if (!StartsWith(remote, "https://"))
    return FailInvalid(cmd + ": --remote \"" + remote + "\": want https://HOST:PORT (a node's --deploy-addr)");
  api::RemoteOptions o;
  o.url = remote;
  if (a.Has("token-file")) {
    auto tok = ReadFile(a.Get("token-file"));
    if (!tok)
      return FailInvalid(cmd + ": cannot read --token-file " + a.Get("token-file") + ": " + tok.error().message());
    o.token = std::string(Trim(*tok));
    if (o.token.empty()) return FailInvalid(cmd + ": --token-file " + a.Get("token-file") + " is empty");
  } else {
    o.token = std::string(Trim(Env("MOOR_DEPLOY_TOKEN")));
  }
  o.cert = a.Get("cert");
  o.key = a.Get("key");
  o.cacert = a.Get("cacert");
  if (o.cert.empty() != o.key.empty()) return FailInvalid(cmd + ": give --cert and --key together");
  return api::MakeHttpsTransport(o);
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Who deploys: $MOOR_DEPLOYER, else `git config user.email` in dir, else USER@HOST.
std::string Who(const std::string& dir) {
  if (auto e = Env("MOOR_DEPLOYER"); !e.empty()) return e;
  if (!dir.empty()) {
    std::string cmd = "git -C " + ShellQuote(dir) + " config user.email 2>/dev/null";
    if (FILE* p = popen(cmd.c_str(), "r")) {
      std::string out;
      char buf[256];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      pclose(p);
      std::string email(Trim(out));
      if (!email.empty() && email.find('\n') == std::string::npos) return email;
    }
  }
  std::string user = Env("USER");
  if (user.empty()) {
    if (auto* pw = getpwuid(getuid())) user = pw->pw_name;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return (user.empty() ? "unknown" : user) + "@" + host;
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

// A JSON request through the transport; non-2xx → the daemon's message.
Result<json> CallJson(api::Transport& t, const std::string& method, const std::string& target,
                      const json& body = nullptr) {
  api::Headers h{{"x-moor-who", Who("")}};
  std::string b = body.is_null() ? std::string() : body.dump();
  if (!b.empty()) h["content-type"] = "application/json";
  auto r = TRY(t.Do(method, target, b, h));
  if (r.status < 200 || r.status >= 300) return Fail(ResponseError(r));
  return ParseJson(r.body, method + " " + target);
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

std::string Str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
int64_t Int(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

Result<json> Releases(api::Transport& t, const std::string& app, const std::string& service) {
  std::string q = "/v1/moor/deploy/releases?app=" + Esc(app);
  if (!service.empty()) q += "&service=" + Esc(service);
  json list = TRY(CallJson(t, "GET", q));
  if (!list.is_array()) return FailInvalid("releases: the daemon's answer is not a list");
  return list;
}

// ---- moor deploy token create|ls|rm (socket only) ---------------------------

Result<int> CmdDeployToken(const Globals& g, const std::vector<std::string>& args) {
  const std::string usage = "deploy token: usage: moor deploy token create NAME [--app APP] | ls | rm NAME";
  if (args.empty()) return FailInvalid(usage);
  std::string sub = args[0];
  auto a = TRY(ParseCommand(std::vector<std::string>(args.begin() + 1, args.end()), {{"app", "", true, false}}));
  auto t = api::MakeUnixTransport(TRY(DaemonSocketPath(g.host)));
  if (sub == "create") {
    if (a.positional.size() != 1)
      return FailInvalid("deploy token create: give one NAME, e.g. moor deploy token create ci");
    json body = {{"name", a.positional[0]}};
    if (a.Has("app")) body["app"] = a.Get("app");
    json r = TRY(CallJson(*t, "POST", "/v1/moor/deploy/tokens", body));
    std::string token = Str(r, "token");
    if (token.empty()) return FailInvalid("deploy token create: the daemon sent no token");
    Out(token + "\n");
    Progress(
        "Store this token now: it is not shown again. Deploy with it: moor deploy --remote https://HOST:PORT "
        "--token-file FILE (or MOOR_DEPLOY_TOKEN)");
    return 0;
  }
  if (sub == "ls" || sub == "list") {
    if (!a.positional.empty()) return FailInvalid("deploy token ls: takes no arguments");
    json list = TRY(CallJson(*t, "GET", "/v1/moor/deploy/tokens"));
    Table tab({"NAME", "APP", "CREATED"});
    if (list.is_array()) {
      for (auto& e : list) {
        std::string app = Str(e, "app");
        tab.Add({Str(e, "name"), app.empty() ? "(all)" : app, Ago(Str(e, "created"))});
      }
    }
    Out(tab.Render());
    return 0;
  }
  if (sub == "rm" || sub == "remove") {
    if (a.positional.size() != 1)
      return FailInvalid("deploy token rm: give one NAME (moor deploy token ls lists them)");
    TRY(CallJson(*t, "DELETE", "/v1/moor/deploy/tokens/" + Esc(a.positional[0])));
    Out(a.positional[0] + "\n");
    return 0;
  }
  return FailInvalid(usage);
}

// ---- moor releases prune -----------------------------------------------------

Result<int> CmdReleasesPrune(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, With({{"keep", "", true, false}}, false)));
  if (a.positional.size() > 1) return FailInvalid("releases prune: usage: moor releases prune [SERVICE] [--keep N]");
  json body = json::object();
  bool have_app = a.Has("file") || a.Has("project-name") || app::FindAppFile(".").has_value();
  if (have_app) {
    auto app = TRY(LoadApp("releases prune", a));
    body["app"] = app.name;
    if (!a.positional.empty()) body["service"] = TRY(PickService("releases prune", app, a.positional[0]));
  } else if (!a.positional.empty()) {
    return FailInvalid("releases prune: no app file here; give it with -f FILE or the app's name with -p NAME");
  }
  if (a.Has("keep")) {
    auto n = ParseInt(a.Get("keep"));
    if (!n || *n < 0 || *n > 1000) return FailInvalid("releases prune: --keep \"" + a.Get("keep") + "\": want 0-1000");
    body["keep"] = *n;
  }
  auto t = api::MakeUnixTransport(TRY(DaemonSocketPath(g.host)));
  json r = TRY(CallJson(*t, "POST", "/v1/moor/deploy/prune", body));
  Out("removed " + std::to_string(Int(r, "releases_removed")) + " releases and " +
      std::to_string(Int(r, "blobs_removed")) + " blobs, " + HumanBytes(Int(r, "bytes_freed")) + " freed\n");
  return 0;
}

}  // namespace

// ---- moor deploy -------------------------------------------------------------

Result<int> CmdDeploy(const Globals& g, const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "token")
    return CmdDeployToken(g, std::vector<std::string>(args.begin() + 1, args.end()));
  auto a = TRY(ParseCommand(
      args, With({{"image", "", true, false}, {"dry-run", "", false, false}, {"quiet", "q", false, false}}, true)));
  if (a.positional.size() > 2) return FailInvalid("deploy: usage: moor deploy [SERVICE] [DIR] [-f FILE] [--image REF]");
  auto app = TRY(LoadApp("deploy", a));
  DeployRequest r;
  r.app = app.name;
  r.service = TRY(PickService("deploy", app, a.positional.empty() ? "" : a.positional[0]));
  r.image = a.Get("image");
  r.dry_run = a.Bool("dry-run");
  if (a.positional.size() == 2) {
    r.dir = a.positional[1];
  } else if (auto it = app.services.find(r.service);
             it != app.services.end() && it->second.code && !it->second.code->source.empty()) {
    r.dir = it->second.code->source;
    if (r.dir[0] != '/') r.dir = app.dir + "/" + r.dir;
  } else if (r.image.empty()) {
    return FailInvalid("deploy: service \"" + r.service + "\" has no code.source in " + app.path +
                       "; give the directory: moor deploy " + r.service + " DIR");
  }
  if (!r.dir.empty() && !PathExists(r.dir))
    return FailInvalid("deploy: code directory " + r.dir + " does not exist; check code.source or give DIR");
  if (r.dry_run && r.dir.empty()) return FailInvalid("deploy: --dry-run needs a code directory");
  r.who = Who(r.dir);
  std::function<void(const std::string&)> progress;
  if (!a.Bool("quiet")) progress = Progress;

  std::unique_ptr<api::Transport> t;
  if (!r.dry_run) t = TRY(OpenTransport("deploy", g, a));
  // A dry run never talks to the daemon: a transport that refuses everything.
  struct NoTransport : api::Transport {
    Result<api::Response> Do(const std::string&, const std::string&, std::string_view, const api::Headers&) override {
      return FailInvalid("deploy: --dry-run sends nothing");
    }
    Result<int> Stream(const std::string&, const std::string&, std::string_view, const api::Headers&,
                       const std::function<bool(std::string_view)>&) override {
      return FailInvalid("deploy: --dry-run sends nothing");
    }
    std::string Describe() const override { return "(dry run)"; }
  } none;
  auto out = TRY(RunDeploy(t ? *t : static_cast<api::Transport&>(none), r, progress));
  if (r.dry_run) {
    Out(r.service + ": " + out.root + " (" + std::to_string(out.files_scanned) + " files, " +
        std::to_string(out.files_hashed) + " hashed; dry run, nothing sent)\n");
  } else if (out.unchanged) {
    Out(r.service + ": up to date (release " + std::to_string(out.release) + ")\n");
  } else {
    Out(r.service + ": release " + std::to_string(out.release) + " live (" + std::to_string(out.blobs_sent) +
        (out.blobs_sent == 1 ? " file, " : " files, ") + HumanBytes(out.bytes_sent) + " sent, " +
        (out.resumed ? "resumed, " : "") + Seconds(out.scan_s + out.transfer_s + out.switch_s) + ")\n");
  }
  return 0;
}

// ---- moor releases -----------------------------------------------------------

Result<int> CmdReleases(const Globals& g, const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "prune")
    return CmdReleasesPrune(g, std::vector<std::string>(args.begin() + 1, args.end()));
  auto a = TRY(ParseCommand(args, With({{"format", "", true, false}}, true)));
  std::string format = a.Get("format");
  if (!format.empty() && format != "json" && format != "table")
    return FailInvalid("releases: --format \"" + format + "\": use json or table");
  if (a.positional.size() > 1) return FailInvalid("releases: usage: moor releases [SERVICE] [--format json]");
  auto app = TRY(LoadApp("releases", a));
  std::string service;
  if (!a.positional.empty()) service = TRY(PickService("releases", app, a.positional[0]));
  auto t = TRY(OpenTransport("releases", g, a));
  json list = TRY(Releases(*t, app.name, service));
  if (format == "json") {
    Out(list.dump(2) + "\n");
    return 0;
  }
  std::vector<std::string> head = {"RELEASE", "STATE",     "CODE",      "IMAGE", "CONFIG",
                                   "WHO",     "CREATED",   "LIVE",      "INSTANCES", "SENT"};
  if (service.empty()) head.insert(head.begin(), "SERVICE");
  Table tab(head);
  for (auto& e : list) {
    bool live = e.value("live", false);
    auto code = image::Digest::Parse(Str(e, "code_digest"));
    std::string image = Str(e, "image_ref");
    if (image.empty()) {
      auto id = image::Digest::Parse(Str(e, "image_id"));
      image = id ? id->Short() : "-";
    }
    std::string live_at = Str(e, "live_at");
    size_t instances = e.contains("instances") && e["instances"].is_array() ? e["instances"].size() : 0;
    std::string state = Str(e, "state");
    std::vector<std::string> row = {
        (live ? "* " : "  ") + std::to_string(Int(e, "release")),
        state.empty() ? "-" : state,
        code ? code->Short() : "-",
        image,
        Str(e, "config_digest").empty() ? "-" : Str(e, "config_digest").substr(0, 12),
        Str(e, "who").empty() ? "-" : Str(e, "who"),
        Ago(Str(e, "created")),
        live_at.empty() ? "-" : Ago(live_at),
        std::to_string(instances),
        HumanBytes(Int(e, "bytes_sent")) + " (" + std::to_string(Int(e, "files_sent")) +
            (Int(e, "files_sent") == 1 ? " file)" : " files)"),
    };
    if (service.empty()) row.insert(row.begin(), Str(e, "service"));
    tab.Add(std::move(row));
  }
  Out(tab.Render());
  return 0;
}

// ---- moor rollback -----------------------------------------------------------

Result<int> CmdRollback(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, With({{"quiet", "q", false, false}}, true)));
  if (a.positional.size() > 2) return FailInvalid("rollback: usage: moor rollback [SERVICE] [RELEASE]");
  auto app = TRY(LoadApp("rollback", a));
  std::string given, release_arg;
  if (a.positional.size() == 2) {
    given = a.positional[0];
    release_arg = a.positional[1];
  } else if (a.positional.size() == 1) {
    // "moor rollback 40": a number that is not a service's name is the release.
    bool number = ParseInt(a.positional[0]).has_value();
    (number && !app.services.count(a.positional[0]) ? release_arg : given) = a.positional[0];
  }
  std::string service = TRY(PickService("rollback", app, given));
  std::optional<int64_t> release;
  if (!release_arg.empty()) {
    release = ParseInt(release_arg);
    if (!release || *release < 1)
      return FailInvalid("rollback: release \"" + release_arg + "\": want a release number (moor releases lists them)");
  }
  auto t = TRY(OpenTransport("rollback", g, a));
  int64_t from = 0;
  for (auto& e : TRY(Releases(*t, app.name, service))) {
    if (e.value("live", false)) from = Int(e, "release");
  }
  json body = {{"app", app.name}, {"service", service}};
  if (release) body["release"] = *release;
  std::function<void(const std::string&)> progress;
  if (!a.Bool("quiet")) progress = Progress;
  json live = TRY(FollowSwitch(*t, "/v1/moor/deploy/rollback", body.dump(), Who("."), progress));
  int64_t to = Int(live, "release");
  if (Int(live, "from")) from = Int(live, "from");
  Out(service + ": release " + std::to_string(to) + " live" +
      (from && from != to ? " (rollback from " + std::to_string(from) + ")" : "") + "\n");
  return 0;
}

}  // namespace moor::cli
