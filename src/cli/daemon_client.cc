#include "cli/daemon_client.h"

#include <cstdlib>

#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

Result<std::string> DaemonSocketPath(const std::string& host_flag) {
  std::string host = host_flag;
  if (host.empty()) {
    const char* env = std::getenv("MOOR_HOST");
    host = env && *env ? env : kDefaultHost;
  }
  if (StartsWith(host, "unix://")) host = host.substr(7);
  if (host.empty() || host[0] != '/') {
    return FailInvalid("host \"" + host +
                       "\": give a unix socket as unix:///PATH (TCP hosts are not supported)");
  }
  return host;
}

Result<Daemon> Daemon::Connect(const Globals& g) {
  return Daemon(TRY(DaemonSocketPath(g.host)));
}

Error ResponseError(const api::Response& r) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  std::string msg;
  if (j.is_object() && j.contains("message") && j["message"].is_string()) msg = j["message"];
  if (msg.empty()) msg = std::string(Trim(r.body));
  if (msg.empty() || msg.find('\n') != std::string::npos) {
    msg = "the daemon answered " + std::to_string(r.status) + " " + api::ReasonPhrase(r.status);
  }
  return Error(0, msg);
}

Result<api::Response> Daemon::Call(const std::string& method, const std::string& target,
                                   std::string_view body) {
  api::Headers h;
  // JSON bodies everywhere except cp's tar.
  if (!body.empty())
    h["content-type"] = body[0] == '{' || body[0] == '[' ? "application/json" : "application/x-tar";
  auto r = TRY(http_.Do(method, target, body, h));
  if (r.status >= 300 && r.status != 304) return Fail(ResponseError(r));
  return r;
}

Result<json> ParseJson(const std::string& body, const std::string& what) {
  if (Trim(body).empty()) return json(nullptr);
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return FailInvalid(what + ": the daemon sent invalid JSON");
  return j;
}

Result<json> Daemon::GetJson(const std::string& target) {
  auto r = TRY(Call("GET", target));
  return ParseJson(r.body, "GET " + target);
}

Result<json> Daemon::PostJson(const std::string& target, const json& body) {
  auto r = TRY(Call("POST", target, body.is_null() ? std::string() : body.dump()));
  return ParseJson(r.body, "POST " + target);
}

Result<void> Daemon::StreamBody(const std::string& method, const std::string& target,
                                const std::function<bool(std::string_view)>& on_data) {
  std::string head;  // the start of the body, for an error's message
  auto r = TRY(http_.Stream(method, target, {}, [&](std::string_view piece) {
    if (head.size() < 65536) head.append(piece.substr(0, 65536 - head.size()));
    return on_data(piece);
  }));
  if (r.status >= 300) {
    if (r.body.empty()) r.body = head;
    return Fail(ResponseError(r));
  }
  return {};
}

std::string Esc(const std::string& s) {
  std::string out = api::PercentEncode(s);
  // PercentEncode keeps '/' (paths); a query value or a single segment must not.
  std::string fixed;
  for (char c : out) fixed += c == '/' ? std::string("%2F") : std::string(1, c);
  return fixed;
}

Result<std::string> FiltersQuery(const std::vector<std::string>& filters) {
  if (filters.empty()) return std::string();
  json f = json::object();
  for (auto& kv : filters) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return FailInvalid("--filter \"" + kv + "\": want KEY=VALUE");
    f[kv.substr(0, eq)].push_back(kv.substr(eq + 1));
  }
  return Esc(f.dump());
}

}  // namespace moor::cli
