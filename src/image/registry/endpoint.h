// One registry host as the client talks to it: the scheme (https, or http
// for insecure/loopback hosts whose server does not speak TLS), TLS
// material, and authentication (the challenge the registry answered with,
// the credentials, bearer tokens cached per scope set). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/registry/challenge.h"
#include "image/registry/docker_config.h"
#include "image/registry/http.h"
#include "image/registry/registry_client.h"
#include "image/registry/tls.h"

namespace moor::image::registry {

class Endpoint {
 public:
  // `host` is where to connect ("registry-1.docker.io", "127.0.0.1:5000"),
  // `domain` the reference domain credentials are stored under ("docker.io").
  static Result<std::unique_ptr<Endpoint>> Create(const std::string& host, const std::string& domain,
                                                  const RegistryOptions& opts);

  // "https://host" or "http://host"; probes /v2/ once to choose.
  Result<std::string> BaseUrl();
  // Sends with the authorization for `scopes`; on 401 answers the challenge
  // (token or Basic) and sends once more. One attempt otherwise.
  Result<HttpResponse> Send(HttpRequest req, const std::vector<std::string>& scopes);
  // Send, retried with exponential backoff on transport failures, 5xx and 429.
  // Not for requests with a sink (the sink would see the bytes twice).
  Result<HttpResponse> SendRetrying(const HttpRequest& req, const std::vector<std::string>& scopes);

  // Login: replaces the stored credentials and checks them against /v2/.
  Result<void> CheckCredentials(const Credentials& creds);

  // Sleeps before retry `attempt` (0-based): 200 ms · 2^attempt, at most 10 s.
  static void Backoff(int attempt);
  int retries() const { return opts_.retries; }
  const std::string& host() const { return host_; }

 private:
  Endpoint(std::string host, std::string domain, RegistryOptions opts, TlsConfig tls);

  Result<std::string> AuthorizationFor(const std::vector<std::string>& scopes, bool refresh);
  Result<std::string> FetchToken(const Challenge& ch, const std::vector<std::string>& scopes);
  Result<std::optional<Credentials>> GetCredentials();
  void LearnChallengeLocked(const HttpResponse& resp);  // caller holds mu_

  std::string host_, domain_;
  RegistryOptions opts_;
  TlsConfig tls_;
  HttpOptions http_;
  bool allow_http_ = false;

  std::mutex mu_;
  std::string base_url_;  // guarded by mu_; empty until probed
  std::optional<Challenge> challenge_;
  bool creds_loaded_ = false;
  std::optional<Credentials> creds_;
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Token> tokens_;  // by space-joined scopes
};

// "HEAD https://…: 404 Not Found: BLOB_UNKNOWN: blob unknown to registry"-style
// one-line summary of a failed response (the registry's error JSON when there
// is one, else the first line of the body).
std::string ResponseSummary(const HttpResponse& resp);
Error StatusError(const std::string& what, const HttpResponse& resp);

}  // namespace moor::image::registry
