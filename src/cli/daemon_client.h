// The CLI's side of the daemon API (docs/api.md): where the socket is, JSON
// requests, and turning the daemon's {"message"} errors into one-line CLI
// errors. Commands never touch the daemon's state any other way.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/http_client.h"
#include "cli/context.h"
#include "common/error.h"

namespace moor::cli {

constexpr const char* kDefaultHost = "unix:///run/moor/moor.sock";

// --host, else $MOOR_HOST, else the default; "unix:///path" or "/path".
Result<std::string> DaemonSocketPath(const std::string& host_flag);

// Docker's exit status for errors of `run` / `create` (the daemon or the
// flags failed, not the container).
constexpr int kExitDaemonError = 125;

class Daemon {
 public:
  static Result<Daemon> Connect(const Globals& g);

  // Sends the request; a non-2xx answer (304 counts as success) becomes an
  // error with the daemon's message.
  Result<api::Response> Call(const std::string& method, const std::string& target,
                             std::string_view body = {});
  Result<nlohmann::json> GetJson(const std::string& target);
  // POST with a JSON body (none when null); parses a JSON answer (null when empty).
  Result<nlohmann::json> PostJson(const std::string& target, const nlohmann::json& body = nullptr);

  // Streams a response body to on_data; a non-2xx answer becomes an error
  // with the daemon's message (on_data may have seen that body: the status
  // is known only afterwards).
  Result<void> StreamBody(const std::string& method, const std::string& target,
                          const std::function<bool(std::string_view)>& on_data);

  api::UnixHttpClient& http() { return http_; }
  const std::string& socket_path() const { return path_; }

 private:
  explicit Daemon(std::string path) : path_(path), http_(std::move(path)) {}
  std::string path_;
  api::UnixHttpClient http_;
};

// The error of a non-2xx response: its {"message"}, else the status line.
Error ResponseError(const api::Response& r);
// Percent-encodes a path segment or query value.
std::string Esc(const std::string& s);
// Docker's --filter k=v (repeatable) → the filters query value {"k":["v",…]}
// (already percent-encoded; "" when there are none).
Result<std::string> FiltersQuery(const std::vector<std::string>& filters);
// Parses a body as JSON; a bad body is an error naming the request.
Result<nlohmann::json> ParseJson(const std::string& body, const std::string& what);

}  // namespace moor::cli
