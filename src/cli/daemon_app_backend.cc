#include "cli/daemon_app_backend.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "api/transport.h"
#include "build/builder.h"
#include "cli/deploy_client.h"
#include "cli/container_session.h"
#include "cli/stream_demux.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

const json& Obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : kEmpty;
}

int Int(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int>() : 0;
}

std::string C(const std::string& id) { return "/containers/" + Esc(id); }

// The error of a non-2xx answer (404 → ENOENT, so "already gone" can be told apart).
std::optional<Error> StatusError(const api::Response& r) {
  if (r.status == 404) return Error(ENOENT, ResponseError(r).message());
  if (r.status >= 300 && r.status != 304) return ResponseError(r);
  return std::nullopt;
}

// POST /containers/{id}/stop[?t=SECONDS, rounded up]; < 0: the container's own timeout.
std::string StopTarget(const std::string& id, int64_t timeout_ns) {
  std::string q;
  if (timeout_ns >= 0) q = "?t=" + std::to_string((timeout_ns + 999'999'999) / 1'000'000'000);
  return C(id) + "/stop" + q;
}

// {"label":["moor.app=APP"]}, percent-encoded.
std::string LabelFilter(const std::string& app) {
  return Esc(json{{"label", json::array({std::string(app::kLabelApp) + "=" + app})}}.dump());
}

bool HasAppLabel(const json& labels, const std::string& app) {
  return labels.is_object() && labels.contains(app::kLabelApp) && labels[app::kLabelApp].is_string() &&
         labels[app::kLabelApp].get<std::string>() == app;
}

std::string Dirname(const std::string& p) {
  auto slash = p.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return p.substr(0, slash);
}

la_ssize_t AppendTo(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

}  // namespace

app::ContainerStatus ContainerStatusFromInspect(const json& info) {
  app::ContainerStatus s;
  s.id = Str(info, "Id");
  s.name = Str(info, "Name");
  if (StartsWith(s.name, "/")) s.name.erase(0, 1);
  for (auto& [k, v] : Obj(Obj(info, "Config"), "Labels").items()) {
    if (v.is_string()) s.labels[k] = v.get<std::string>();
  }
  const json& state = Obj(info, "State");
  s.state = Str(state, "Status");
  s.exit_code = Int(state, "ExitCode");
  s.health = Str(Obj(state, "Health"), "Status");
  s.restart_count = Int(info, "RestartCount");
  const json& net = Obj(info, "NetworkSettings");
  s.ip = Str(net, "IPAddress");
  if (s.ip.empty()) {
    // The network the container was created on first, else any.
    std::string mode = Str(Obj(info, "HostConfig"), "NetworkMode");
    const json& nets = Obj(net, "Networks");
    if (nets.contains(mode)) s.ip = Str(nets[mode], "IPAddress");
    for (auto& [k, v] : nets.items()) {
      if (s.ip.empty()) s.ip = Str(v, "IPAddress");
    }
  }
  std::vector<std::string> ports;
  for (auto& [port, bindings] : Obj(net, "Ports").items()) {
    if (!bindings.is_array()) continue;
    for (auto& b : bindings) {
      std::string ip = Str(b, "HostIp");
      if (ip.empty()) ip = "0.0.0.0";
      if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
      ports.push_back(ip + ":" + Str(b, "HostPort") + "->" + port);
    }
  }
  s.ports = Join(ports, ", ");
  return s;
}

app::RegistrationStatus RegistrationFromJson(const json& j) {
  app::RegistrationStatus r;
  if (!j.is_object() || !j.contains("Instances") || !j["Instances"].is_array()) return r;
  for (auto& inst : j["Instances"]) {
    ++r.instances;
    std::string status = Str(inst, "Status");
    if (status == "passing" || status == "warning") {
      ++r.passing;
      continue;
    }
    if (!r.detail.empty()) continue;
    r.detail = Str(inst, "ID") + " " + (status.empty() ? "pending" : status);
    std::string out = std::string(Trim(Str(inst, "Output")));
    if (auto nl = out.find('\n'); nl != std::string::npos) out = out.substr(0, nl);
    if (!out.empty()) r.detail += ": " + out;
  }
  if (j.contains("Templates") && j["Templates"].is_array()) {
    for (auto& t : j["Templates"]) {
      ++r.templates;
      if (t.contains("Rendered") && t["Rendered"].is_boolean() && t["Rendered"].get<bool>()) {
        ++r.rendered;
        continue;
      }
      if (!r.detail.empty()) continue;
      r.detail = "template " + Str(t, "Destination") + " not rendered yet";
      std::string err = Str(t, "Error");
      if (!err.empty()) r.detail += ": " + err;
    }
  }
  return r;
}

Result<std::string> TarWithFile(const std::vector<std::string>& dirs, const std::string& file,
                                const std::string& content, int mode) {
  std::string out;
  std::unique_ptr<archive, int (*)(archive*)> w(archive_write_new(), archive_write_free);
  if (!w) return FailInvalid("cannot allocate a tar archive");
  archive_write_set_format_pax_restricted(w.get());
  if (archive_write_open(w.get(), &out, nullptr, AppendTo, nullptr) != ARCHIVE_OK) {
    return FailInvalid(std::string("tar: ") + archive_error_string(w.get()));
  }
  time_t now = time(nullptr);
  auto entry = [&](const std::string& name, mode_t type, int perm, const std::string* data) -> Result<void> {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), static_cast<mode_t>(perm));
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), now, 0);
    archive_entry_set_size(e.get(), data ? static_cast<la_int64_t>(data->size()) : 0);
    if (archive_write_header(w.get(), e.get()) != ARCHIVE_OK) {
      return FailInvalid("tar " + name + ": " + archive_error_string(w.get()));
    }
    if (data && !data->empty() && archive_write_data(w.get(), data->data(), data->size()) < 0) {
      return FailInvalid("tar " + name + ": " + archive_error_string(w.get()));
    }
    return {};
  };
  for (auto& d : dirs) TRY(entry(d + "/", AE_IFDIR, 0755, nullptr));
  TRY(entry(file, AE_IFREG, mode & 07777, &content));
  if (archive_write_close(w.get()) != ARCHIVE_OK) {
    return FailInvalid(std::string("tar: ") + archive_error_string(w.get()));
  }
  return out;
}

Result<api::Response> DaemonAppBackend::Do(const std::string& method, const std::string& target,
                                           std::string_view body) {
  api::Headers h;
  if (!body.empty()) h["content-type"] = body[0] == '{' ? "application/json" : "application/x-tar";
  auto r = TRY(d_.http().Do(method, target, body, h));
  if (auto bad = StatusError(r)) return Fail(std::move(*bad));
  return r;
}

Result<std::vector<app::ContainerStatus>> DaemonAppBackend::ListContainers(const std::string& app) {
  auto r = TRY(Do("GET", "/containers/json?all=1&filters=" + LabelFilter(app)));
  json list = TRY(ParseJson(r.body, "container list"));
  if (!list.is_array()) return FailInvalid("the daemon's container list is not a list");
  std::vector<app::ContainerStatus> out;
  for (auto& c : list) {
    // The daemon filters by label; checked again so an older daemon that
    // ignores the filter cannot make an app adopt another's containers.
    if (c.is_object() && c.contains("Labels") && c["Labels"].is_object() && !HasAppLabel(c["Labels"], app)) continue;
    auto s = Inspect(Str(c, "Id"));
    if (!s && s.error().errnum() == ENOENT) continue;  // removed meanwhile
    if (!s) return Fail(std::move(s.error()));
    if (s->labels.count(app::kLabelApp) == 0 || s->labels[app::kLabelApp] != app) continue;
    out.push_back(std::move(*s));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

Result<app::ContainerStatus> DaemonAppBackend::Inspect(const std::string& id) {
  auto r = TRY(Do("GET", C(id) + "/json"));
  json info = TRY(ParseJson(r.body, "inspect " + id));
  if (!info.is_object()) return FailInvalid("inspect " + id + ": the daemon's answer is not an object");
  return ContainerStatusFromInspect(info);
}

Result<std::string> DaemonAppBackend::ImageId(const std::string& ref) {
  // A reference's characters ([a-z0-9._/:@-]) go as they are, as docker sends them.
  for (char c : ref) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._/:@-").find(c) == std::string_view::npos)
      return FailInvalid("image reference \"" + ref + "\" has a character an image name cannot have");
  }
  auto r = Do("GET", "/images/" + ref + "/json");
  if (!r && r.error().errnum() == ENOENT) return std::string();
  if (!r) return Fail(std::move(r.error()));
  json j = TRY(ParseJson(r->body, "image inspect " + ref));
  return Str(j, "Id");
}

Result<std::string> DaemonAppBackend::Pull(const std::string& ref) {
  TRY(PullImage(d_, ref, quiet_));
  std::string id = TRY(ImageId(ref));
  if (id.empty()) return FailInvalid("pull " + ref + ": the daemon reports no such image after the pull");
  return id;
}

Result<std::string> DaemonAppBackend::Build(const app::BuildSpec& b, const std::string& tag) {
  // As `moor build`: in this process, into the store at --root (RUN steps
  // need the sealed binary: `moor up` re-executes itself sealed before
  // anything when the file builds).
  build::BuildOptions opts;
  opts.context_dir = b.context;
  opts.dockerfile = b.dockerfile.empty() ? "" : b.context + "/" + b.dockerfile;
  opts.tags = {tag};
  opts.build_args = b.args;
  auto svc = TRY(OpenImages(g_));
  auto progress = image::MakeProgress(STDERR_FILENO, quiet_);
  auto id = TRY_CTX(build::Build(svc, opts, *progress, std::cerr), "build " + tag);
  std::cerr.flush();
  std::string daemon_id = TRY(ImageId(tag));
  return daemon_id.empty() ? id.str() : daemon_id;
}

Result<bool> DaemonAppBackend::EnsureNetwork(const app::NetworkSpec& n,
                                             const std::map<std::string, std::string>& labels) {
  auto have = Do("GET", "/networks/" + Esc(n.name));
  if (have) return false;
  if (have.error().errnum() != ENOENT) return Fail(std::move(have.error()));
  if (n.external) return FailInvalid("network " + n.name + " is external but does not exist: create it with `moor network create " + n.name + "`");
  json body = {{"Name", n.name}, {"Driver", n.driver}, {"Labels", labels}, {"Internal", n.internal}};
  if (!n.subnets.empty()) {
    json config = json::array();
    for (auto& s : n.subnets) config.push_back({{"Subnet", s}});
    body["IPAM"] = {{"Config", config}};
  }
  TRY_CTX(Do("POST", "/networks/create", body.dump()), "create network " + n.name);
  return true;
}

Result<bool> DaemonAppBackend::EnsureVolume(const app::VolumeSpec& v,
                                            const std::map<std::string, std::string>& labels) {
  auto have = Do("GET", "/volumes/" + Esc(v.name));
  if (have) return false;
  if (have.error().errnum() != ENOENT) return Fail(std::move(have.error()));
  if (v.external) return FailInvalid("volume " + v.name + " is external but does not exist: create it with `moor volume create " + v.name + "`");
  json body = {{"Name", v.name}, {"Driver", v.driver}, {"Labels", labels}};
  TRY_CTX(Do("POST", "/volumes/create", body.dump()), "create volume " + v.name);
  return true;
}

Result<std::vector<std::string>> DaemonAppBackend::ListNetworks(const std::string& app) {
  auto r = TRY(Do("GET", "/networks?filters=" + LabelFilter(app)));
  json list = TRY(ParseJson(r.body, "network list"));
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (auto& n : list) {
    if (HasAppLabel(Obj(n, "Labels"), app)) out.push_back(Str(n, "Name"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> DaemonAppBackend::ListVolumes(const std::string& app) {
  auto r = TRY(Do("GET", "/volumes?filters=" + LabelFilter(app)));
  json j = TRY(ParseJson(r.body, "volume list"));
  std::vector<std::string> out;
  if (!j.is_object() || !j.contains("Volumes") || !j["Volumes"].is_array()) return out;
  for (auto& v : j["Volumes"]) {
    if (HasAppLabel(Obj(v, "Labels"), app)) out.push_back(Str(v, "Name"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> DaemonAppBackend::RemoveNetwork(const std::string& name) {
  TRY(Do("DELETE", "/networks/" + Esc(name)));
  return {};
}

Result<void> DaemonAppBackend::RemoveVolume(const std::string& name) {
  TRY(Do("DELETE", "/volumes/" + Esc(name)));
  return {};
}

Result<std::string> DaemonAppBackend::Create(const std::string& name, const json& body) {
  ContainerOptions o;
  o.name = name;
  o.body = body;
  o.image = body.is_object() ? Str(body, "Image") : "";
  o.pull = "never";  // the executor has the images in place
  o.quiet = true;
  return CreateContainer(d_, o);
}

Result<void> DaemonAppBackend::PutFile(const std::string& id, const std::string& path, const std::string& content,
                                       int mode) {
  if (path.empty() || path[0] != '/' || path.back() == '/')
    return FailInvalid("put file: \"" + path + "\" is not an absolute file path");
  // The deepest directory that exists: existing directories keep their
  // owner and mode; the missing ones come in the tar.
  std::string base = Dirname(path);
  while (base != "/") {
    auto r = Do("HEAD", C(id) + "/archive?path=" + Esc(base));
    if (r) break;
    if (r.error().errnum() != ENOENT) return Fail(std::move(r.error()));
    base = Dirname(base);
  }
  std::string rel = path.substr(base == "/" ? 1 : base.size() + 1);
  std::vector<std::string> dirs;
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    dirs.push_back(rel.substr(0, slash));
  }
  std::string tar = TRY(TarWithFile(dirs, rel, content, mode));
  TRY_CTX(Do("PUT", C(id) + "/archive?path=" + Esc(base), tar), "copy " + path + " into the container");
  return {};
}

Result<void> DaemonAppBackend::RenderTemplates(const std::string& id) {
  auto r = d_.http().Do("POST", "/v1/moor/render/" + Esc(id), {}, {});
  if (!r) return Fail(std::move(r.error()));
  // A daemon without discovery has no such route: nothing renders templates there.
  if (r->status == 404 && r->body.find("no such container") == std::string::npos) return {};
  if (r->status >= 300) return Fail(ResponseError(*r));
  return {};
}

Result<void> DaemonAppBackend::Start(const std::string& id) {
  auto r = Do("POST", C(id) + "/start");
  if (!r) return Fail(StartError(std::move(r.error())));
  return {};
}

Result<void> DaemonAppBackend::Stop(const std::string& id, int64_t timeout_ns) {
  TRY(Do("POST", StopTarget(id, timeout_ns)));
  return {};
}

std::vector<Result<void>> DaemonAppBackend::StopAll(const std::vector<std::string>& ids,
                                                    const std::vector<int64_t>& timeouts_ns) {
  std::vector<Result<void>> out(ids.size(), Result<void>{});
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([this, &ids, &timeouts_ns, &out, i] {
      auto d = Daemon::Connect(g_);
      if (!d) {
        out[i] = Fail(d.error());
        return;
      }
      auto r = d->http().Do("POST", StopTarget(ids[i], i < timeouts_ns.size() ? timeouts_ns[i] : -1), {}, {});
      if (!r) {
        out[i] = Fail(std::move(r.error()));
      } else if (auto bad = StatusError(*r)) {
        out[i] = Fail(std::move(*bad));
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

Result<void> DaemonAppBackend::Remove(const std::string& id) {
  TRY(Do("DELETE", C(id) + "?force=1&v=1"));
  return {};
}

Result<void> DaemonAppBackend::Signal(const std::string& id, const std::string& signal) {
  TRY_CTX(Do("POST", C(id) + "/kill?signal=" + Esc(signal)), "send " + signal + " to " + id);
  return {};
}

Result<app::CodeState> DaemonAppBackend::PutCodeService(const std::string& app, const std::string& service,
                                                        const json& record) {
  auto r = TRY(Do("PUT", "/v1/moor/deploy/services/" + Esc(app) + "/" + Esc(service), record.dump()));
  json j = TRY(ParseJson(r.body, "deploy service record"));
  app::CodeState st;
  st.releases_dir = Str(j, "releases_dir");
  if (j.contains("live_release") && j["live_release"].is_number_integer()) st.live_release = j["live_release"].get<int64_t>();
  if (st.releases_dir.empty()) return FailInvalid("the daemon did not say where the releases of " + service + " are");
  return st;
}

Result<int64_t> DaemonAppBackend::DeployCode(const std::string& app, const std::string& service,
                                             const std::string& dir) {
  auto t = api::MakeUnixTransport(d_.socket_path());
  DeployRequest req;
  req.app = app;
  req.service = service;
  req.dir = dir;
  req.who = "moor up";
  auto out = TRY(RunDeploy(*t, req, [this](const std::string& line) {
    if (!quiet_) std::cerr << line << "\n";
  }));
  return out.release;
}

Result<app::RegistrationStatus> DaemonAppBackend::Registration(const std::string& id) {
  auto r = d_.http().Do("GET", "/v1/moor/registration/" + Esc(id), {}, {});
  if (!r) return Fail(std::move(r.error()));
  // No such container, or a daemon without discovery: nothing registered.
  if (r->status == 404 || r->status == 503) return app::RegistrationStatus{};
  if (r->status >= 300) return Fail(ResponseError(*r));
  json j = TRY(ParseJson(r->body, "registration of " + id));
  return RegistrationFromJson(j);
}

std::string DaemonAppBackend::LogTail(const std::string& id, int lines) {
  std::string text;
  StreamDemuxer demux([&](int, std::string_view data) { text.append(data); });
  bool raw = false;
  auto s = d_.StreamBody("GET", C(id) + "/logs?stdout=1&stderr=1&tail=" + std::to_string(lines),
                         [&](std::string_view piece) {
                           // A TTY container's log is raw: no framing.
                           if (!raw && !demux.Feed(piece)) raw = true;
                           if (raw) text.append(piece);
                           return true;
                         });
  if (!s) return "";
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

int64_t DaemonAppBackend::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void DaemonAppBackend::SleepNs(int64_t ns) {
  if (ns <= 0) return;
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace moor::cli
