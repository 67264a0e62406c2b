// The deploy API's routes (docs/api.md "Deploys"): every route on the
// daemon's socket; the R routes also on the remote TLS endpoint, behind a
// token or client-certificate check.
#include <cerrno>
#include <cstdlib>
#include <pwd.h>

#include "common/log.h"
#include "deploy/deploy_internal.h"

namespace moor::deploy {

using nlohmann::json;

namespace {

void SendErr(api::ResponseWriter& w, const Error& e) {
  int status = StatusOf(e);
  if (status == 500) log::Warn("deploy API: " + e.message());
  w.SendError(status, e.message());
}

#define DEPLOY_TRY(w, expr)                  \
  ({                                         \
    auto&& dr_ = (expr);                     \
    if (!dr_) {                              \
      SendErr(w, dr_.error());               \
      return;                                \
    }                                        \
    ::moor::detail::TakeValue(std::move(dr_)); \
  })

Result<json> Body(const api::Request& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) return FailInvalid("the request body is not valid JSON");
  return j;
}

std::string Who(const api::Request& req, const api::ResponseWriter& w, const std::string& identity) {
  std::string said;
  if (auto it = req.headers.find("x-moor-who"); it != req.headers.end()) {
    // Shown in `moor releases` later: no control characters (terminal escapes).
    for (char c : it->second.substr(0, 200)) {
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) said += c;
    }
  }
  if (!identity.empty()) return said.empty() || said == identity ? identity : identity + " (" + said + ")";
  int uid = w.PeerUid();
  std::string user = "uid " + std::to_string(uid);
  if (uid >= 0) {
    if (passwd* pw = getpwuid(static_cast<uid_t>(uid))) user = pw->pw_name;
  }
  return said.empty() ? user : said + " (" + user + ")";
}

// Streams progress lines; the switch goes on if the client goes away.
void StreamSwitch(api::ResponseWriter& w, const std::function<Result<int64_t>(const ProgressFn&)>& run) {
  w.StartStream(200, {{"content-type", "application/x-ndjson"}});
  bool gone = false, live = false;
  auto progress = [&](const json& line) {
    if (line.is_object() && line.value("state", "") == "live") live = true;
    if (!gone && !w.Write(line.dump() + "\n")) gone = true;
  };
  auto r = run(progress);
  if (!r) {
    progress({{"error", r.error().message()}});
    return;
  }
  // A commit of a release already live says so too.
  if (!live) progress({{"release", *r}, {"state", "live"}});
}

std::optional<int64_t> Int(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s->c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

}  // namespace

// The identity a handler acts as: "" on the socket; on the remote endpoint
// the certificate's CN or the token's name. The handler gets it in `who`.
using Guarded = std::function<void(const api::Request&, api::ResponseWriter&, const std::string& identity)>;

namespace {

void AddDeployRoutes(api::Router& r, DeployService& s, bool remote,
                     const std::function<api::Handler(Guarded)>& guard) {
  r.Handle("GET", "/v1/moor/deploy/services", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    json j = DEPLOY_TRY(w, s.ListServices(req.Query("app").value_or("")));
    w.SendJson(200, j.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/sessions", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string& id) {
    json body = DEPLOY_TRY(w, Body(req));
    json j = DEPLOY_TRY(w, s.OpenSession(body, Who(req, w, id)));
    w.SendJson(200, j.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/sessions/{id}/have", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    json body = DEPLOY_TRY(w, Body(req));
    json j = DEPLOY_TRY(w, s.Have(req.Param("id"), body));
    w.SendJson(200, j.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/sessions/{id}/blobs", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    auto p = DEPLOY_TRY(w, s.PutBlobs(req.Param("id"), req.body));
    w.SendJson(200, json{{"stored", p.stored.size()}, {"files", p.files}, {"bytes", p.bytes}}.dump());
  }));
  r.Handle("PUT", "/v1/moor/deploy/sessions/{id}/blobs/{digest}", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    auto offset = Int(req.Query("offset")), size = Int(req.Query("size"));
    if (!offset || !size || *offset < 0 || *size < 0) {
      w.SendError(400, "offset and size must be given as byte counts (?offset=N&size=TOTAL)");
      return;
    }
    int64_t current = 0;
    auto got = s.PutBlobPart(req.Param("id"), req.Param("digest"), *offset, *size, req.body, &current);
    if (!got && got.error().errnum() == ESPIPE) {
      w.SendJson(409, json{{"message", got.error().message()}, {"offset", current}}.dump());
      return;
    }
    int64_t off = DEPLOY_TRY(w, std::move(got));
    w.SendJson(200, json{{"offset", off}}.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/sessions/{id}/trees", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    std::vector<image::Digest> missing;
    auto p = s.PutTrees(req.Param("id"), req.body, &missing);
    if (!p) {
      json m = json::array();
      for (auto& d : missing) m.push_back(d.str());
      // A tree naming what was never sent is a bad request, not a missing resource.
      int status = missing.empty() ? StatusOf(p.error()) : 400;
      w.SendJson(status, json{{"message", p.error().message()}, {"missing", m}}.dump());
      return;
    }
    w.SendJson(200, json{{"stored", p->stored.size()}}.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/sessions/{id}/commit", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    std::string session = req.Param("id");
    StreamSwitch(w, [&](const ProgressFn& p) { return s.Commit(session, p); });
  }));
  r.Handle("POST", "/v1/moor/deploy/rollback", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string& id) {
    json body = DEPLOY_TRY(w, Body(req));
    std::string app = body.value("app", ""), svc = body.value("service", "");
    std::optional<int64_t> release;
    if (body.contains("release") && body["release"].is_number_integer()) release = body["release"].get<int64_t>();
    std::string who = Who(req, w, id);
    StreamSwitch(w, [&](const ProgressFn& p) { return s.Rollback(app, svc, release, who, p); });
  }));
  r.Handle("GET", "/v1/moor/deploy/releases", guard([&s](const api::Request& req, api::ResponseWriter& w, const std::string&) {
    json j = DEPLOY_TRY(w, s.Releases(req.Query("app").value_or(""), req.Query("service").value_or("")));
    w.SendJson(200, j.dump());
  }));
  if (remote) return;
  auto local = [](auto f) {
    return [f](const api::Request& req, api::ResponseWriter& w) { f(req, w); };
  };
  r.Handle("PUT", "/v1/moor/deploy/services/{app}/{svc}", local([&s](const api::Request& req, api::ResponseWriter& w) {
    json body = DEPLOY_TRY(w, Body(req));
    json j = DEPLOY_TRY(w, s.PutService(req.Param("app"), req.Param("svc"), body));
    w.SendJson(200, j.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/prune", local([&s](const api::Request& req, api::ResponseWriter& w) {
    json body = DEPLOY_TRY(w, Body(req));
    std::optional<int> keep;
    if (body.contains("keep") && body["keep"].is_number_integer()) keep = body["keep"].get<int>();
    if (keep && *keep < 0) {
      w.SendError(400, "keep must be 0 or more");
      return;
    }
    json j = DEPLOY_TRY(w, s.Prune(body.value("app", ""), body.value("service", ""), keep));
    w.SendJson(200, j.dump());
  }));
  r.Handle("POST", "/v1/moor/deploy/tokens", local([&s](const api::Request& req, api::ResponseWriter& w) {
    json body = DEPLOY_TRY(w, Body(req));
    json j = DEPLOY_TRY(w, s.CreateToken(body.value("name", ""), body.value("app", "")));
    w.SendJson(201, j.dump());
  }));
  r.Handle("GET", "/v1/moor/deploy/tokens", local([&s](const api::Request&, api::ResponseWriter& w) {
    json j = DEPLOY_TRY(w, s.ListTokens());
    w.SendJson(200, j.dump());
  }));
  r.Handle("DELETE", "/v1/moor/deploy/tokens/{name}", local([&s](const api::Request& req, api::ResponseWriter& w) {
    DEPLOY_TRY(w, s.RemoveToken(req.Param("name")));
    w.Send(api::Response{204, {}, ""});
  }));
}

}  // namespace

void DeployService::AddRoutes(api::Router& router) {
  AddDeployRoutes(router, *this, false, [](Guarded g) -> api::Handler {
    return [g](const api::Request& req, api::ResponseWriter& w) { g(req, w, ""); };
  });
}

void DeployService::AddRemoteRoutes(api::Router& router) {
  AddDeployRoutes(router, *this, true, [this](Guarded g) -> api::Handler {
    return [this, g](const api::Request& req, api::ResponseWriter& w) {
      // A verified client certificate is the identity; else a bearer token.
      std::string identity = w.PeerIdentity();
      if (identity.empty()) {
        std::string auth;
        if (auto it = req.headers.find("authorization"); it != req.headers.end()) auth = it->second;
        // The token is checked against the app the handler acts on: a
        // session's own app, else the body's; a query naming another is refused.
        std::string app = req.Query("app").value_or("");
        std::string body_app;
        if (!req.body.empty() && req.body[0] == '{') {
          json j = json::parse(req.body, nullptr, false);
          if (j.is_object() && j.contains("app") && j["app"].is_string()) body_app = j["app"].get<std::string>();
        }
        if (!body_app.empty()) {
          if (!app.empty() && app != body_app) {
            w.SendError(400, "the request names two apps (" + app + " in the query, " + body_app + " in the body)");
            return;
          }
          app = body_app;
        }
        if (req.params.count("id")) {
          auto row = impl_->SessionRow(req.Param("id"));
          app = row ? row->app : "";
        }
        auto name = Authenticate(auth, app);
        if (!name) {
          w.SendError(401, name.error().message());
          return;
        }
        identity = *name;
      }
      g(req, w, identity);
    };
  });
}

}  // namespace moor::deploy
