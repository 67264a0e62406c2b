// A thin layer over libcurl easy handles: one request, one response.
// Response bodies of 2xx answers can stream into a sink (blob downloads);
// everything else is collected (bounded) for error messages. Request bodies
// are a string or a file descriptor read with pread from offset 0, so a
// retried request re-sends the same bytes.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/registry/tls.h"

namespace moor::image::registry {

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  int body_fd = -1;  // when >= 0: sends body_size bytes of this fd instead of `body`
  int64_t body_size = 0;
  // Receives the body of a 2xx response together with its status and headers
  // (to tell a 206 from a 200); an error aborts the transfer and is returned
  // from Perform.
  std::function<Result<void>(const HttpResponse& head, const char* data, size_t n)> sink;
  // Called with (bytes received or sent, total or -1) during the transfer.
  std::function<void(int64_t done, int64_t total)> progress;
  bool follow_redirects = false;
  size_t max_body = 4 << 20;  // bodies collected beyond this are an error
};

struct HttpResponse {
  long status = 0;
  // Lowercase names; repeated headers keep every value (WWW-Authenticate).
  std::multimap<std::string, std::string> headers;
  std::string body;
  std::string effective_url;  // after redirects

  std::string Header(const std::string& lower_name) const;
  std::vector<std::string> Headers(const std::string& lower_name) const;
};

struct HttpOptions {
  int connect_timeout_s = 15;
  int low_speed_timeout_s = 30;
  std::string user_agent = "moor/0.1";
};

// Performs the request. A transport failure (no HTTP response) is returned
// as an Error whose errnum is kTransportErrno + the CURLcode, so callers can
// tell whether to retry or to fall back to plain HTTP; HTTP statuses are
// never errors here.
inline constexpr int kTransportErrno = 100000;
Result<HttpResponse> Perform(const HttpRequest& req, const TlsConfig& tls, const HttpOptions& opts);

// True for curl codes worth retrying (connection reset, timeouts, partial
// transfers) and for the TLS handshake failing as a plain-HTTP server makes it.
bool IsRetryableTransport(const Error& e);
bool IsTlsHandshakeFailure(const Error& e);

}  // namespace moor::image::registry
