#include "image/registry/endpoint.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/strings.h"
#include "image/registry/url.h"

namespace moor::image::registry {
namespace {

using json = nlohmann::json;

// Docker allows plain HTTP to loopback registries without configuration.
bool IsLoopback(const std::string& host) {
  std::string h = host;
  if (StartsWith(h, "[")) {
    h = h.substr(1, h.find(']') - 1);
  } else if (size_t colon = h.rfind(':'); colon != std::string::npos && h.find(':') == colon) {
    h = h.substr(0, colon);
  }
  return h == "localhost" || h == "::1" || StartsWith(h, "127.");
}

std::string HostOnly(const std::string& host) {
  if (StartsWith(host, "[")) return host.substr(0, host.find(']') + 1);
  size_t colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  return Join(scopes, " ");
}

bool Retryable(const HttpResponse& r) {
  return r.status >= 500 || r.status == 429;
}

}  // namespace

std::string ResponseSummary(const HttpResponse& resp) {
  std::string status = std::to_string(resp.status);
  json doc = json::parse(resp.body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object()) {
    auto errs = doc.find("errors");
    if (errs != doc.end() && errs->is_array() && !errs->empty()) {
      std::vector<std::string> parts;
      for (const json& e : *errs) {
        if (!e.is_object()) continue;
        std::string code = e.value("code", "");
        std::string msg = e.value("message", "");
        for (char& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::replace(code.begin(), code.end(), '_', ' ');
        parts.push_back(msg.empty() || msg == code ? code : code + ": " + msg);
      }
      if (!parts.empty()) return status + " " + Join(parts, "; ");
    }
    // Token servers answer {"details": "…"} or {"error": "…"}.
    for (const char* key : {"details", "error", "message"}) {
      if (doc.contains(key) && doc[key].is_string()) return status + " " + doc[key].get<std::string>();
    }
  }
  std::string_view body = Trim(resp.body);
  body = body.substr(0, std::min(body.find('\n'), size_t{200}));
  return body.empty() ? status : status + " " + std::string(body);
}

Error StatusError(const std::string& what, const HttpResponse& resp) {
  return Error::Invalid(what + ": " + ResponseSummary(resp));
}

Endpoint::Endpoint(std::string host, std::string domain, RegistryOptions opts, TlsConfig tls)
    : host_(std::move(host)), domain_(std::move(domain)), opts_(std::move(opts)), tls_(std::move(tls)) {
  http_.connect_timeout_s = opts_.connect_timeout_s;
  http_.low_speed_timeout_s = opts_.low_speed_timeout_s;
  http_.user_agent = opts_.user_agent;
}

Result<std::unique_ptr<Endpoint>> Endpoint::Create(const std::string& host, const std::string& domain,
                                                   const RegistryOptions& opts) {
  TlsConfig tls = TRY_CTX(LoadTlsConfig(opts.cert_dirs, host), "TLS configuration for " + host);
  bool insecure = std::any_of(opts.insecure_registries.begin(), opts.insecure_registries.end(),
                              [&](const std::string& h) { return h == host || h == HostOnly(host); });
  // As Docker does for --insecure-registry: TLS without verification, then HTTP.
  if (insecure) tls.verify = false;
  std::unique_ptr<Endpoint> ep(new Endpoint(host, domain, opts, std::move(tls)));
  ep->allow_http_ = insecure || IsLoopback(host);
  return ep;
}

Result<std::string> Endpoint::BaseUrl() {
  {
    std::lock_guard lock(mu_);
    if (!base_url_.empty()) return base_url_;
  }
  std::vector<std::string> schemes = {"https"};
  if (allow_http_) schemes.push_back("http");
  std::optional<Error> first_error;
  for (const std::string& scheme : schemes) {
    HttpRequest probe;
    probe.url = scheme + "://" + host_ + "/v2/";
    Result<HttpResponse> r = Perform(probe, tls_, http_);
    for (int attempt = 0; !r && IsRetryableTransport(r.error()) && attempt < opts_.retries; ++attempt) {
      Backoff(attempt);
      r = Perform(probe, tls_, http_);
    }
    if (r) {
      std::lock_guard lock(mu_);
      base_url_ = scheme + "://" + host_;
      if (r->status == 401) LearnChallengeLocked(*r);
      return base_url_;
    }
    if (!first_error) first_error = r.error();
    // Only a server that does not speak TLS makes HTTP worth trying.
    if (!IsTlsHandshakeFailure(r.error())) break;
  }
  std::string hint;
  if (first_error->errnum() == kTransportErrno + CURLE_PEER_FAILED_VERIFICATION) {
    hint = " (put the registry's CA certificate in <cert-dir>/" + host_ + "/ca.crt, or use --insecure-registry " +
           host_ + ")";
  }
  return Fail(Error(first_error->errnum(), "cannot reach registry " + host_ + ": " + first_error->message() + hint));
}

void Endpoint::LearnChallengeLocked(const HttpResponse& resp) {
  std::optional<Challenge> basic;
  for (const std::string& header : resp.Headers("www-authenticate")) {
    for (Challenge& ch : ParseChallenges(header)) {
      if (ch.scheme == "bearer" && !ch.Param("realm").empty()) {
        challenge_ = std::move(ch);
        return;
      }
      if (ch.scheme == "basic" && !basic) basic = std::move(ch);
    }
  }
  if (basic) challenge_ = std::move(basic);
}

Result<std::optional<Credentials>> Endpoint::GetCredentials() {
  // Caller holds mu_.
  if (!creds_loaded_) {
    creds_ = TRY(LookupCredentials(DockerConfigPath(opts_.docker_config), domain_));
    creds_loaded_ = true;
  }
  return creds_;
}

Result<std::string> Endpoint::FetchToken(const Challenge& ch, const std::vector<std::string>& scopes) {
  // Caller holds mu_ (token fetches are serialised; they are rare and cached).
  std::string url = ch.Param("realm");
  if (std::string service = ch.Param("service"); !service.empty()) url = AppendQuery(url, "service", service);
  for (const std::string& s : scopes) url = AppendQuery(url, "scope", s);
  HttpRequest req;
  req.url = url;
  req.follow_redirects = true;
  auto creds = TRY(GetCredentials());
  if (creds) req.headers.push_back("Authorization: Basic " + Base64Encode(creds->username + ":" + creds->password));
  Result<HttpResponse> r = Perform(req, tls_, http_);
  for (int attempt = 0; attempt < opts_.retries && ((!r && IsRetryableTransport(r.error())) || (r && Retryable(*r)));
       ++attempt) {
    Backoff(attempt);
    r = Perform(req, tls_, http_);
  }
  if (!r) return Fail(std::move(r.error()).Wrap("get token for " + host_));
  if (r->status == 401 || r->status == 403) {
    std::string what = creds ? "authentication to " + host_ + " failed (check `moor login " + domain_ + "`)"
                             : "authentication to " + host_ + " required (run `moor login " + domain_ + "`)";
    return Fail(StatusError(what, *r).WithExitCode(1));
  }
  if (r->status != 200) return Fail(StatusError("get token from " + ch.Param("realm"), *r));
  json doc = json::parse(r->body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return FailInvalid("token server " + ch.Param("realm") + ": response is not a JSON object");
  std::string token = doc.value("token", "");
  if (token.empty()) token = doc.value("access_token", "");
  if (token.empty()) return FailInvalid("token server " + ch.Param("realm") + ": response has no token");
  int64_t expires_in = 60;
  if (auto it = doc.find("expires_in"); it != doc.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    expires_in = it->get<int64_t>();
  }
  // Renew a little early so a token does not expire in flight.
  auto expires = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(expires_in - 10, 1));
  tokens_[JoinScopes(scopes)] = Token{token, expires};
  return token;
}

Result<std::string> Endpoint::AuthorizationFor(const std::vector<std::string>& scopes, bool refresh) {
  std::lock_guard lock(mu_);
  if (!challenge_) return std::string();
  if (challenge_->scheme == "basic") {
    auto creds = TRY(GetCredentials());
    if (!creds) {
      return Fail(Error::Invalid("authentication to " + host_ + " required (run `moor login " + domain_ + "`)"));
    }
    return "Authorization: Basic " + Base64Encode(creds->username + ":" + creds->password);
  }
  auto it = tokens_.find(JoinScopes(scopes));
  if (!refresh && it != tokens_.end() && it->second.expires > std::chrono::steady_clock::now()) {
    return "Authorization: Bearer " + it->second.value;
  }
  std::string token = TRY(FetchToken(*challenge_, scopes));
  return "Authorization: Bearer " + token;
}

Result<HttpResponse> Endpoint::Send(HttpRequest req, const std::vector<std::string>& scopes) {
  TRY(BaseUrl());
  size_t plain_headers = req.headers.size();
  std::string auth = TRY(AuthorizationFor(scopes, /*refresh=*/false));
  if (!auth.empty()) req.headers.push_back(auth);
  HttpResponse resp = TRY(Perform(req, tls_, http_));
  if (resp.status != 401) return resp;
  {
    std::lock_guard lock(mu_);
    bool had = challenge_.has_value();
    LearnChallengeLocked(resp);
    if (!challenge_ || (had && auth.empty())) return resp;
  }
  // The token (or the absence of one) was not enough: get a fresh one once.
  req.headers.resize(plain_headers);
  auth = TRY(AuthorizationFor(scopes, /*refresh=*/true));
  if (!auth.empty()) req.headers.push_back(auth);
  return Perform(req, tls_, http_);
}

Result<HttpResponse> Endpoint::SendRetrying(const HttpRequest& req, const std::vector<std::string>& scopes) {
  for (int attempt = 0;; ++attempt) {
    Result<HttpResponse> r = Send(req, scopes);
    bool again = (!r && IsRetryableTransport(r.error())) || (r && Retryable(*r));
    if (!again || attempt >= opts_.retries) return r;
    Backoff(attempt);
  }
}

Result<void> Endpoint::CheckCredentials(const Credentials& creds) {
  {
    std::lock_guard lock(mu_);
    creds_ = creds;
    creds_loaded_ = true;
    tokens_.clear();
  }
  std::string base = TRY(BaseUrl());
  HttpRequest req;
  req.url = base + "/v2/";
  HttpResponse resp = TRY(SendRetrying(req, {}));
  if (resp.status == 401 || resp.status == 403) {
    return Fail(StatusError("login to " + domain_ + " failed: unauthorized (wrong user name or password?)", resp));
  }
  if (resp.status != 200) return Fail(StatusError("login to " + domain_ + ": GET " + req.url, resp));
  return {};
}

void Endpoint::Backoff(int attempt) {
  auto delay = std::chrono::milliseconds(200) * (1 << std::min(attempt, 6));
  std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(10)));
}

}  // namespace moor::image::registry
