#include <sys/utsname.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "engine/engine_metrics.h"
#include "engine/routes.h"
#include "image/progress.h"
#include "image/pull.h"

namespace moor::engine {

using api::Request;
using api::ResponseWriter;
using nlohmann::json;

namespace {

Result<json> ParseBody(const std::string& body) {
  try {
    return body.empty() ? json::object() : json::parse(body);
  } catch (const json::exception&) {
    return FailInvalid("request body is not valid JSON");
  }
}

// Pull progress as Docker's JSON lines.
class JsonLinesProgress : public image::ProgressSink {
 public:
  explicit JsonLinesProgress(ResponseWriter& w) : w_(w) {}
  void Status(const std::string& id, const std::string& status) override {
    w_.Write(json{{"id", id}, {"status", status}}.dump() + "\n");
  }
  void Bytes(const std::string& id, int64_t done, int64_t total) override {
    w_.Write(json{{"id", id}, {"status", "Downloading"}, {"progressDetail", {{"current", done}, {"total", total}}}}
                 .dump() + "\n");
  }
  void Message(const std::string& line) override { w_.Write(json{{"status", line}}.dump() + "\n"); }
  void Flush() override {}

 private:
  ResponseWriter& w_;
};

}  // namespace

void RegisterObjectRoutes(api::Router& router, Engine& e) {
  router.Handle("GET", "/_ping", [](const Request&, ResponseWriter& w) {
    w.Send({200, {{"content-type", "text/plain"}, {"api-version", "1.41"}}, "OK"});
  });
  router.Handle("HEAD", "/_ping", [](const Request&, ResponseWriter& w) { w.Send({200, {}, ""}); });
  router.Handle("GET", "/version", [](const Request&, ResponseWriter& w) {
    utsname u{};
    uname(&u);
    w.SendJson(200, json{{"Version", "0.1.0"}, {"ApiVersion", "1.41"}, {"MinAPIVersion", "1.24"},
                         {"Os", "linux"}, {"Arch", "amd64"}, {"KernelVersion", u.release},
                         {"Components", json::array({{{"Name", "moor"}, {"Version", "0.1.0"}}})}}
                        .dump());
  });
  router.Handle("GET", "/info", [&e](const Request&, ResponseWriter& w) {
    auto all = ROUTE_TRY(w, e.All());
    int running = 0, paused = 0, stopped = 0;
    for (const auto& r : all) {
      if (r.state.status == "running" || r.state.status == "restarting") ++running;
      else if (r.state.status == "paused") ++paused;
      else ++stopped;
    }
    size_t images = 0;
    {
      auto list = e.images().List();
      if (list) images = list->size();
    }
    utsname u{};
    uname(&u);
    json runtimes = json::object();
    for (const char* n : {"moor", "runc", "crun"}) runtimes[n] = json::object();
    for (const auto& [n, p] : e.config().runtimes) runtimes[n] = {{"path", p}};
    w.SendJson(200, json{{"Containers", all.size()}, {"ContainersRunning", running},
                         {"ContainersPaused", paused}, {"ContainersStopped", stopped},
                         {"Images", images}, {"Driver", "overlay"}, {"DockerRootDir", e.config().root},
                         {"CgroupVersion", access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "2" : "1"},
                         {"KernelVersion", u.release}, {"OperatingSystem", "Linux"}, {"OSType", "linux"},
                         {"Architecture", u.machine}, {"Name", u.nodename}, {"ServerVersion", "0.1.0"},
                         {"Runtimes", runtimes}, {"DefaultRuntime", e.config().default_runtime},
                         {"LoggingDriver", "json-file"}}
                        .dump());
  });
  router.Handle("GET", "/events", [&e](const Request& req, ResponseWriter& w) {
    EventFilter f;
    if (!ParseFilters(req, &f.terms)) {
      return w.SendError(400, "invalid filters: expected JSON like {\"type\":[\"container\"]}");
    }
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    auto parse_time = [&](const char* k) -> std::optional<int64_t> {
      auto v = req.Query(k);
      if (!v || v->empty()) return std::nullopt;
      auto t = monitor::ParseLogTime(*v, now);
      if (!t) return std::nullopt;
      return *t;
    };
    auto since = parse_time("since");
    auto until = parse_time("until");
    w.StartStream(200, {{"content-type", "application/json"}});
    uint64_t seq = since ? 0 : e.events().LastSeq();
    for (;;) {
      uint64_t next = seq;
      auto evs = e.events().WaitAfter(seq, 500, &next);
      seq = next;
      for (const auto& ev : evs) {
        if (since && ev.time_ns < *since) continue;
        if (until && ev.time_ns > *until) return;
        if (!f.Matches(ev)) continue;
        if (!w.Write(EventToJson(ev) + "\n")) return;
      }
      if (until && now < *until) {
        now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
      }
      if (until && std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count() > *until) {
        return;
      }
      if (w.ClientGone()) return;
    }
  });

  // Images (the image store is shared with the image commands).
  router.Handle("GET", "/images/json", [&e](const Request&, ResponseWriter& w) {
    auto list = ROUTE_TRY(w, e.images().List());
    json out = json::array();
    for (const auto& s : list) {
      out.push_back({{"Id", s.id.str()}, {"RepoTags", s.name.empty() ? json::array() : json::array({s.name})},
                     {"Size", s.size}, {"Created", s.created}});
    }
    w.SendJson(200, out.dump());
  });
  router.Handle("GET", "/images/{name*}/json", [&e](const Request& req, ResponseWriter& w) {
    auto r = e.images().InspectJson(req.Param("name"));
    if (!r) return SendEngineError(w, Error(ENOENT, r.error().message()));
    w.SendJson(200, *r);
  });
  router.Handle("POST", "/images/create", [&e](const Request& req, ResponseWriter& w) {
    auto ref = req.Query("fromImage");
    if (!ref || ref->empty()) return w.SendError(400, "fromImage is required");
    std::string full = *ref;
    if (auto tag = req.Query("tag"); tag && !tag->empty()) full += ":" + *tag;
    w.StartStream(200, {{"content-type", "application/json"}});
    JsonLinesProgress progress(w);
    auto r = image::Pull(e.images(), full, {}, progress);
    CountImagePull(r.has_value());
    if (!r) w.Write(json{{"error", r.error().message()}, {"errorDetail", {{"message", r.error().message()}}}}.dump() + "\n");
    else w.Write(json{{"status", "Pulled " + full}}.dump() + "\n");
  });

  // Networks.
  router.Handle("GET", "/networks", [&e](const Request&, ResponseWriter& w) {
    json out = json::array();
    for (const auto& n : ROUTE_TRY(w, e.networks().List())) out.push_back(json::parse(NetworkToJson(n)));
    w.SendJson(200, out.dump());
  });
  router.Handle("GET", "/networks/{id}", [&e](const Request& req, ResponseWriter& w) {
    auto n = ROUTE_TRY(w, e.networks().Get(req.Param("id")));
    json j = json::parse(NetworkToJson(n));
    j["IPAM"] = {{"Driver", "default"}, {"Config", json::array({{{"Subnet", n.subnet}, {"Gateway", n.gateway}}})}};
    json containers = json::object();
    for (const auto& r : ROUTE_TRY(w, e.All())) {
      if (r.endpoint.network_id != n.id) continue;
      containers[r.id] = {{"Name", r.name}, {"IPv4Address", r.endpoint.ip + "/" + std::to_string(r.endpoint.prefix)},
                          {"MacAddress", r.endpoint.mac}};
    }
    j["Containers"] = containers;
    w.SendJson(200, j.dump());
  });
  router.Handle("POST", "/networks/create", [&e](const Request& req, ResponseWriter& w) {
    auto body = ROUTE_TRY(w, ParseBody(req.body));
    std::string subnet, gateway;
    try {
      if (body.contains("IPAM") && body["IPAM"].contains("Config") && !body["IPAM"]["Config"].empty()) {
        subnet = body["IPAM"]["Config"][0].value("Subnet", "");
        gateway = body["IPAM"]["Config"][0].value("Gateway", "");
      }
      std::string driver = body.value("Driver", "bridge");
      if (driver != "bridge") return w.SendError(400, "network driver \"" + driver + "\" is not supported: use bridge");
      auto n = ROUTE_TRY(w, e.networks().Create(body.value("Name", ""), subnet, gateway,
                                              body.value("Labels", std::map<std::string, std::string>{}),
                                              body.value("Internal", false)));
      w.SendJson(201, json{{"Id", n.id}, {"Warning", ""}}.dump());
    } catch (const json::exception& ex) {
      w.SendError(400, std::string("invalid network definition: ") + ex.what());
    }
  });
  router.Handle("DELETE", "/networks/{id}", [&e](const Request& req, ResponseWriter& w) {
    auto n = ROUTE_TRY(w, e.networks().Get(req.Param("id")));
    ROUTE_TRY(w, e.networks().Remove(n.id, e.NetworkInUse(n.id)));
    w.Send({204, {}, ""});
  });
  for (const char* verb : {"connect", "disconnect"}) {
    router.Handle("POST", std::string("/networks/{id}/") + verb, [verb](const Request&, ResponseWriter& w) {
      w.SendError(400, std::string("moor network ") + verb +
                           " is not supported yet: create the container with --network NAME instead");
    });
  }
  router.Handle("POST", "/networks/prune", [&e](const Request&, ResponseWriter& w) {
    json removed = json::array();
    for (const auto& n : ROUTE_TRY(w, e.networks().List())) {
      if (n.name == "bridge" || e.NetworkInUse(n.id)) continue;
      if (e.networks().Remove(n.id, false)) removed.push_back(n.name);
    }
    w.SendJson(200, json{{"NetworksDeleted", removed}}.dump());
  });

  // Volumes.
  router.Handle("GET", "/volumes", [&e](const Request&, ResponseWriter& w) {
    json vols = json::array();
    for (const auto& v : ROUTE_TRY(w, e.volumes().List())) vols.push_back(json::parse(VolumeToJson(v)));
    w.SendJson(200, json{{"Volumes", vols}, {"Warnings", json::array()}}.dump());
  });
  router.Handle("GET", "/volumes/{name}", [&e](const Request& req, ResponseWriter& w) {
    w.SendJson(200, VolumeToJson(ROUTE_TRY(w, e.volumes().Get(req.Param("name")))));
  });
  router.Handle("POST", "/volumes/create", [&e](const Request& req, ResponseWriter& w) {
    auto body = ROUTE_TRY(w, ParseBody(req.body));
    try {
      auto v = ROUTE_TRY(w, e.volumes().Create(body.value("Name", ""),
                                             body.value("Labels", std::map<std::string, std::string>{})));
      w.SendJson(201, VolumeToJson(v));
    } catch (const json::exception& ex) {
      w.SendError(400, std::string("invalid volume definition: ") + ex.what());
    }
  });
  router.Handle("DELETE", "/volumes/{name}", [&e](const Request& req, ResponseWriter& w) {
    std::string name = req.Param("name");
    ROUTE_TRY(w, e.volumes().Remove(name, e.VolumeInUse(name)));
    w.Send({204, {}, ""});
  });
  router.Handle("POST", "/volumes/prune", [&e](const Request&, ResponseWriter& w) {
    json removed = json::array();
    for (const auto& v : ROUTE_TRY(w, e.volumes().List())) {
      if (e.VolumeInUse(v.name)) continue;
      if (e.volumes().Remove(v.name, false)) removed.push_back(v.name);
    }
    w.SendJson(200, json{{"VolumesDeleted", removed}, {"SpaceReclaimed", 0}}.dump());
  });
}

}  // namespace moor::engine
