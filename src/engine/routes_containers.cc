#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "engine/routes.h"

namespace moor::engine {

using api::Request;
using api::ResponseWriter;
using nlohmann::json;

void SendEngineError(ResponseWriter& w, const Error& e) {
  json body = {{"message", e.message()}};
  if (e.exit_code() != 0) body["exit_code"] = e.exit_code();
  w.SendJson(HttpStatusFor(e), body.dump());
}

namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    // write(), not send(): one side may be a pty master (exec -t). The daemon
    // ignores SIGPIPE.
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void Copy(int from, int to) {
  char buf[32768];
  for (;;) {
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || !WriteAll(to, {buf, static_cast<size_t>(n)})) break;
  }
  shutdown(to, SHUT_WR);
}

std::string Frame(int stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  f.append(payload);
  return f;
}

std::optional<int> OptInt(const Request& r, const std::string& k) {
  auto v = r.Query(k);
  if (!v || v->empty()) return std::nullopt;
  auto n = ParseInt(*v);
  if (!n) return std::nullopt;
  return static_cast<int>(*n);
}

void NoContent(ResponseWriter& w) { w.Send({204, {}, ""}); }

// 304 for "already started/stopped", as Docker answers.
void NoContentOr304(ResponseWriter& w, const Result<void>& r) {
  if (r) return NoContent(w);
  if (r.error().errnum() == EALREADY) return w.Send({304, {}, ""});
  SendEngineError(w, r.error());
}

std::string Base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

bool ParseFilters(const Request& req, std::multimap<std::string, std::string>* out) {
  auto f = req.Query("filters");
  if (!f || f->empty()) return true;
  try {
    const json parsed = json::parse(*f);  // must outlive the loop over items()
    for (auto& [k, v] : parsed.items()) {
      if (v.is_array()) {
        for (auto& x : v) out->emplace(k, x.get<std::string>());
      } else if (v.is_object()) {
        for (auto& [x, on] : v.items()) out->emplace(k, x);
      }
    }
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

void Pump(int a, int b, std::string a_pending) {
  if (!a_pending.empty()) WriteAll(b, a_pending);
  std::thread t([a, b] { Copy(a, b); });
  Copy(b, a);
  t.join();
}

void RegisterContainerRoutes(api::Router& router, Engine& e) {
  router.Handle("POST", "/containers/create", [&e](const Request& req, ResponseWriter& w) {
    auto id = ROUTE_TRY(w, e.Create(req.Query("name").value_or(""), req.body));
    w.SendJson(201, json{{"Id", id}, {"Warnings", json::array()}}.dump());
  });
  router.Handle("GET", "/containers/json", [&e](const Request& req, ResponseWriter& w) {
    ListFilter f;
    f.all = req.QueryBool("all");
    if (!ParseFilters(req, &f.terms)) {
      return w.SendError(400, "invalid filters: expected JSON like {\"status\":[\"running\"]}");
    }
    w.SendJson(200, ROUTE_TRY(w, e.ListJson(f)));
  });
  router.Handle("GET", "/containers/{id}/json", [&e](const Request& req, ResponseWriter& w) {
    w.SendJson(200, ROUTE_TRY(w, e.InspectJson(req.Param("id"))));
  });
  router.Handle("POST", "/containers/{id}/start", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Start(req.Param("id")));
  });
  router.Handle("POST", "/containers/{id}/stop", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Stop(req.Param("id"), OptInt(req, "t"), req.Query("signal").value_or("")));
  });
  router.Handle("POST", "/containers/{id}/restart", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Restart(req.Param("id"), OptInt(req, "t")));
  });
  router.Handle("POST", "/containers/{id}/kill", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Kill(req.Param("id"), req.Query("signal").value_or("")));
  });
  router.Handle("POST", "/containers/{id}/pause", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Pause(req.Param("id")));
  });
  router.Handle("POST", "/containers/{id}/unpause", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Unpause(req.Param("id")));
  });
  router.Handle("DELETE", "/containers/{id}", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Remove(req.Param("id"), req.QueryBool("force"), req.QueryBool("v")));
  });
  router.Handle("POST", "/containers/{id}/rename", [&e](const Request& req, ResponseWriter& w) {
    NoContentOr304(w, e.Rename(req.Param("id"), req.Query("name").value_or("")));
  });
  router.Handle("POST", "/containers/{id}/wait", [&e](const Request& req, ResponseWriter& w) {
    std::string id = req.Param("id");
    bool started = false;
    auto r = e.Wait(id, req.Query("condition").value_or(""), [&w] { return w.ClientGone(); },
                    [&] {
                      w.StartStream(200, {{"content-type", "application/json"}});
                      started = true;
                    });
    if (!started) return SendEngineError(w, r.error());
    json out;
    if (r) {
      out = {{"StatusCode", r->exit_code}, {"Error", r->error.empty() ? json(nullptr) : json{{"Message", r->error}}}};
    } else {
      out = {{"StatusCode", -1}, {"Error", {{"Message", r.error().message()}}}};
    }
    w.Write(out.dump() + "\n");
  });
  router.Handle("GET", "/containers/{id}/logs", [&e](const Request& req, ResponseWriter& w) {
    std::string id = req.Param("id");
    auto rec = ROUTE_TRY(w, e.Get(id));
    monitor::LogQuery q;
    q.follow = req.QueryBool("follow");
    q.stdout = req.QueryBool("stdout", true);
    q.stderr = req.QueryBool("stderr", true);
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    for (auto [key, dest] : {std::pair{"since", &q.since_ns}, std::pair{"until", &q.until_ns}}) {
      auto v = req.Query(key);
      if (!v || v->empty() || *v == "0") continue;
      auto t = monitor::ParseLogTime(*v, now);
      if (!t) return w.SendError(400, "--" + std::string(key) + ": " + t.error().message());
      *dest = *t;
    }
    if (auto tail = req.Query("tail"); tail && *tail != "all" && !tail->empty()) {
      auto n = ParseInt(*tail);
      if (!n || *n < 0) return w.SendError(400, "--tail must be a number or \"all\", not \"" + *tail + "\"");
      q.tail = *n;
    }
    bool ts = req.QueryBool("timestamps");
    bool tty = rec.config.tty;
    w.StartStream(200, {{"content-type", tty ? "application/vnd.docker.raw-stream"
                                             : "application/vnd.docker.multiplexed-stream"}});
    (void)e.Logs(
        id, q,
        [&](const monitor::LogEntry& le) {
          std::string text = ts ? le.time + " " + le.text : le.text;
          return w.Write(tty ? text : Frame(le.stream == "stderr" ? 2 : 1, text));
        },
        [&w] { return w.ClientGone(); });
  });
  router.Handle("POST", "/containers/{id}/attach", [&e](const Request& req, ResponseWriter& w) {
    // Answered at once (the client starts the container after this answer,
    // as `moor run` does); the stream begins when the container runs.
    std::string id = req.Param("id");
    ROUTE_TRY(w, e.Get(id));
    std::string pending;
    UniqueFd client = w.Hijack({{"content-type", "application/vnd.docker.multiplexed-stream"}}, &pending);
    if (!client) return;
    auto mon = e.Attach(id, req.QueryBool("stdin"), req.QueryBool("stdout", true), req.QueryBool("stderr", true),
                        nullptr);
    if (!mon) {
      std::string msg = "moor: " + mon.error().message() + "\n";
      (void)!write(client.get(), msg.data(), msg.size());
      return;
    }
    Pump(client.get(), mon->get(), pending);
  });
  router.Handle("POST", "/containers/{id}/resize", [&e](const Request& req, ResponseWriter& w) {
    auto r = e.Resize(req.Param("id"), OptInt(req, "h").value_or(24), OptInt(req, "w").value_or(80));
    if (!r) return SendEngineError(w, r.error());
    w.Send({200, {}, ""});
  });
  router.Handle("GET", "/containers/{id}/top", [&e](const Request& req, ResponseWriter& w) {
    w.SendJson(200, ROUTE_TRY(w, e.TopJson(req.Param("id"), req.Query("ps_args").value_or(""))));
  });
  router.Handle("GET", "/containers/{id}/stats", [&e](const Request& req, ResponseWriter& w) {
    std::string id = req.Param("id");
    if (!req.QueryBool("stream", true)) return w.SendJson(200, ROUTE_TRY(w, e.StatsJson(id)));
    ROUTE_TRY(w, e.Get(id));
    w.StartStream(200, {{"content-type", "application/json"}});
    for (;;) {
      auto s = e.StatsJson(id);
      if (!s || !w.Write(*s + "\n")) break;
      for (int i = 0; i < 10 && !w.ClientGone(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (w.ClientGone()) break;
    }
  });
  router.Handle("POST", "/containers/{id}/update", [&e](const Request& req, ResponseWriter& w) {
    w.SendJson(200, ROUTE_TRY(w, e.Update(req.Param("id"), req.body)));
  });
  router.Handle("POST", "/containers/prune", [&e](const Request&, ResponseWriter& w) {
    auto ids = ROUTE_TRY(w, e.Prune());
    w.SendJson(200, json{{"ContainersDeleted", ids}, {"SpaceReclaimed", 0}}.dump());
  });
  router.Handle("GET", "/containers/{id}/archive", [&e](const Request& req, ResponseWriter& w) {
    auto path = req.Query("path");
    if (!path || path->empty()) return w.SendError(400, "path is required");
    ROUTE_TRY(w, e.Get(req.Param("id")));
    std::string pending;
    // Checked before the answer: a missing path is a 404, not a broken tar.
    int fds[2];
    if (pipe(fds) != 0) return w.SendError(500, "pipe failed");
    UniqueFd rd(fds[0]), wr(fds[1]);
    Result<void> result;
    std::thread producer([&] {
      result = e.ArchiveGet(req.Param("id"), *path, wr.get());
      wr.Reset();
    });
    std::string first;
    char buf[65536];
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n <= 0) {
      producer.join();
      if (!result) return SendEngineError(w, result.error());
      return w.SendError(500, "archive of " + *path + " is empty");
    }
    w.StartStream(200, {{"content-type", "application/x-tar"}});
    bool ok = w.Write({buf, static_cast<size_t>(n)});
    while (ok && (n = read(rd.get(), buf, sizeof buf)) > 0) ok = w.Write({buf, static_cast<size_t>(n)});
    rd.Reset();
    producer.join();
  });
  router.Handle("HEAD", "/containers/{id}/archive", [&e](const Request& req, ResponseWriter& w) {
    auto path = req.Query("path");
    if (!path || path->empty()) return w.SendError(400, "path is required");
    auto st = ROUTE_TRY(w, e.ArchiveStat(req.Param("id"), *path));
    w.Send({200, {{"x-docker-container-path-stat", Base64(st)}}, ""});
  });
  router.Handle("PUT", "/containers/{id}/archive", [&e](const Request& req, ResponseWriter& w) {
    auto path = req.Query("path");
    if (!path || path->empty()) return w.SendError(400, "path is required");
    ROUTE_TRY(w, e.ArchivePut(req.Param("id"), *path, req.body));
    w.Send({200, {}, ""});
  });
  router.Handle("POST", "/containers/{id}/exec", [&e](const Request& req, ResponseWriter& w) {
    auto id = ROUTE_TRY(w, e.ExecCreate(req.Param("id"), req.body));
    w.SendJson(201, json{{"Id", id}}.dump());
  });
  router.Handle("POST", "/exec/{id}/start", [&e](const Request& req, ResponseWriter& w) {
    bool detach = false;
    try {
      if (!req.body.empty()) detach = json::parse(req.body).value("Detach", false);
    } catch (const json::exception&) {
      return w.SendError(400, "invalid JSON body");
    }
    ROUTE_TRY(w, e.ExecInspectJson(req.Param("id")));
    if (detach) {
      ROUTE_TRY(w, e.ExecStart(req.Param("id"), UniqueFd(), "", true));
      return w.Send({200, {}, ""});
    }
    std::string pending;
    UniqueFd conn = w.Hijack({{"content-type", "application/vnd.docker.multiplexed-stream"}}, &pending);
    if (!conn) return;
    (void)e.ExecStart(req.Param("id"), std::move(conn), pending, false);
  });
  router.Handle("GET", "/exec/{id}/json", [&e](const Request& req, ResponseWriter& w) {
    w.SendJson(200, ROUTE_TRY(w, e.ExecInspectJson(req.Param("id"))));
  });
  router.Handle("POST", "/exec/{id}/resize", [&e](const Request& req, ResponseWriter& w) {
    ROUTE_TRY(w, e.ExecResize(req.Param("id"), OptInt(req, "h").value_or(24), OptInt(req, "w").value_or(80)));
    w.Send({200, {}, ""});
  });
}

}  // namespace moor::engine
