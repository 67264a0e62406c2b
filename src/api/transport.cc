// Transports: the local daemon's unix socket (UnixHttpClient) and a remote
// daemon's TLS endpoint (libcurl, one easy handle reused so requests share a
// kept-alive connection). A transport is used by one thread at a time.
#include "api/transport.h"

#include <curl/curl.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "api/http_client.h"
#include "common/fd.h"
#include "common/strings.h"

namespace moor::api {

namespace {

// ---- unix socket ----

class UnixTransport final : public Transport {
 public:
  explicit UnixTransport(std::string path) : path_(std::move(path)), client_(path_) {}

  Result<Response> Do(const std::string& method, const std::string& target, std::string_view body,
                      const Headers& headers) override {
    return client_.Do(method, target, body, headers);
  }

  Result<int> Stream(const std::string& method, const std::string& target, std::string_view body,
                     const Headers& headers, const std::function<bool(std::string_view)>& on_data) override {
    Response r = TRY(client_.Stream(method, target, body, on_data, headers));
    // UnixHttpClient returns a non-2xx body whole; hand it over like the https
    // transport does, so callers see the error message either way.
    if (!r.body.empty()) on_data(r.body);
    return r.status;
  }

  std::string Describe() const override { return "unix://" + path_; }

 private:
  std::string path_;
  UnixHttpClient client_;
};

// ---- https (libcurl) ----

constexpr long kConnectTimeoutS = 10;
// A request (not a stream) that moves no byte for this long has a hung peer.
constexpr long kStallTimeoutS = 300;

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What one transfer collects.
struct Transfer {
  Headers headers;
  std::string body;
  const std::function<bool(std::string_view)>* on_data = nullptr;  // set: stream instead of collect
  bool stopped = false;  // on_data asked to stop
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  // Each status line (a 100 Continue, then the final one) starts a new header block.
  if (StartsWith(line, "HTTP/")) {
    t->headers.clear();
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    t->headers[Lower(std::string(Trim(line.substr(0, colon))))] = std::string(Trim(line.substr(colon + 1)));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view piece(data, size * n);
  if (t->on_data) {
    if (!piece.empty() && !(*t->on_data)(piece)) {
      t->stopped = true;
      return 0;  // makes curl abort the transfer with CURLE_WRITE_ERROR
    }
  } else {
    t->body.append(piece);
  }
  return size * n;
}

Result<void> CheckReadable(const std::string& path, const std::string& what, const std::string& flag) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(Error(errno, "cannot read " + what + " " + path + ": " + std::strerror(errno) +
                                        "; check " + flag));
  return {};
}

class HttpsTransport final : public Transport {
 public:
  HttpsTransport(RemoteOptions o, std::unique_ptr<CURL, CurlFree> curl) : o_(std::move(o)), curl_(std::move(curl)) {}

  Result<Response> Do(const std::string& method, const std::string& target, std::string_view body,
                      const Headers& headers) override {
    Transfer t;
    int status = TRY(Perform(method, target, body, headers, &t));
    return Response{.status = status, .headers = std::move(t.headers), .body = std::move(t.body)};
  }

  Result<int> Stream(const std::string& method, const std::string& target, std::string_view body,
                     const Headers& headers, const std::function<bool(std::string_view)>& on_data) override {
    Transfer t;
    t.on_data = &on_data;
    return Perform(method, target, body, headers, &t);
  }

  std::string Describe() const override { return o_.url; }

 private:
  Result<int> Perform(const std::string& method, const std::string& target, std::string_view body,
                      const Headers& headers, Transfer* t);
  Error Explain(CURLcode rc, const char* errbuf) const;

  RemoteOptions o_;
  std::unique_ptr<CURL, CurlFree> curl_;
};

Result<int> HttpsTransport::Perform(const std::string& method, const std::string& target, std::string_view body,
                                    const Headers& headers, Transfer* t) {
  if (method.empty() || HasCrLf(method) || method.find(' ') != std::string::npos)
    return FailInvalid("invalid HTTP method \"" + method + "\"");
  if (target.empty() || target[0] != '/' || HasCrLf(target) || target.find(' ') != std::string::npos)
    return FailInvalid("invalid request target \"" + target + "\" (must start with /)");

  Headers h;
  for (const auto& [k, v] : headers) {
    if (k.empty() || HasCrLf(k) || HasCrLf(v) || k.find(':') != std::string::npos)
      return FailInvalid("invalid request header \"" + k + "\"");
    h[Lower(k)] = v;
  }
  if (!o_.token.empty() && !h.contains("authorization")) h["authorization"] = "Bearer " + o_.token;
  if (!body.empty() && !h.contains("content-type")) h["content-type"] = "application/json";
  std::unique_ptr<curl_slist, SlistFree> list;
  auto add = [&list](const std::string& line) {
    curl_slist* head = curl_slist_append(list.get(), line.c_str());  // the same head once non-empty
    if (!head) return false;
    (void)list.release();
    list.reset(head);
    return true;
  };
  for (const auto& [k, v] : h)
    if (!add(k + ": " + v)) return FailInvalid("out of memory building the request headers");
  // No "Expect: 100-continue" round trip before large bodies, and no form content-type by default.
  if (!add("Expect:") || (!h.contains("content-type") && !add("Content-Type:")))
    return FailInvalid("out of memory building the request headers");

  CURL* c = curl_.get();
  curl_easy_reset(c);  // keeps the connection cache, so the connection is reused
  char errbuf[CURL_ERROR_SIZE] = "";
  std::string url = o_.url + target;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  // Straight to the node: a deploy's credentials are for it alone.
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "moor-cli");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutS);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!o_.cacert.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o_.cacert.c_str());
  if (!o_.cert.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, o_.cert.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, (o_.key.empty() ? o_.cert : o_.key).c_str());
  }
  if (!t->on_data) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, kStallTimeoutS);
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method == "GET" && body.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    if (method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc == CURLE_WRITE_ERROR && t->stopped) return static_cast<int>(status);
  if (rc != CURLE_OK) return Fail(Explain(rc, errbuf));
  return static_cast<int>(status);
}

Error HttpsTransport::Explain(CURLcode rc, const char* errbuf) const {
  std::string detail = errbuf[0] ? std::string(Trim(errbuf)) : curl_easy_strerror(rc);
  long os_errno = 0;
  curl_easy_getinfo(curl_.get(), CURLINFO_OS_ERRNO, &os_errno);
  const std::string& url = o_.url;
  auto has = [&detail](std::string_view s) { return Lower(detail).find(s) != std::string::npos; };
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return Error(EHOSTUNREACH, "cannot resolve the host of " + url + " (" + detail + "); check --host");
    case CURLE_COULDNT_CONNECT: {
      std::string why = os_errno == ECONNREFUSED ? "connection refused"
                        : os_errno != 0          ? Lower(std::strerror(static_cast<int>(os_errno)))
                                                 : detail;
      return Error(os_errno ? static_cast<int>(os_errno) : ECONNREFUSED,
                   "cannot reach " + url + ": " + why + " — is the daemon started with --deploy-addr?");
    }
    case CURLE_OPERATION_TIMEDOUT:
      if (has("connect"))
        return Error(ETIMEDOUT, "cannot reach " + url + ": timed out connecting — check the address and "
                                "that a firewall lets the port through");
      return Error(ETIMEDOUT, "no answer from " + url + " for " + std::to_string(kStallTimeoutS) +
                                  " s; check the node (moor daemon logs) and retry");
    case CURLE_PEER_FAILED_VERIFICATION:
      if (has("subject name") || has("does not match") || has("hostname"))
        return Error(EPERM, "TLS: the node's certificate is not for the host in " + url + " (" + detail +
                                ") — connect by a name the certificate lists, or reissue it");
      return Error(EPERM, "TLS: certificate verify failed (" + detail + ") — pass --cacert with the node's CA");
    case CURLE_SSL_CACERT_BADFILE:
      return Error(EINVAL, "TLS: cannot load CA file " + o_.cacert + " (" + detail + "); pass --cacert with a PEM CA");
    case CURLE_SSL_CERTPROBLEM:
      return Error(EINVAL, "TLS: cannot use client certificate " + o_.cert + " / key " +
                               (o_.key.empty() ? o_.cert : o_.key) + " (" + detail + "); check --cert and --key");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
      if (has("certificate required") || has("handshake failure") || has("alert bad certificate") ||
          has("alert unknown ca")) {
        return Error(EPERM, "TLS: the node refused the connection (" + detail + ") — it requires a client "
                            "certificate its CA signed: pass --cert and --key");
      }
      if (rc == CURLE_SSL_CONNECT_ERROR)
        return Error(EPROTO, "TLS handshake with " + url + " failed (" + detail + "); check that it is the "
                             "node's --deploy-addr");
      return Error(EPIPE, "connection to " + url + " lost (" + detail + "); retry (an interrupted deploy resumes)");
    default:
      return Error(EIO, "request to " + url + " failed: " + detail);
  }
}

}  // namespace

std::unique_ptr<Transport> MakeUnixTransport(const std::string& socket_path) {
  return std::make_unique<UnixTransport>(socket_path);
}

Result<std::unique_ptr<Transport>> MakeHttpsTransport(const RemoteOptions& o) {
  RemoteOptions r = o;
  constexpr std::string_view kScheme = "https://";
  if (Lower(r.url.substr(0, kScheme.size())) != kScheme) {
    std::string hint = StartsWith(r.url, "unix://") ? " (unix:// is the local daemon: use --host there)" : "";
    return FailInvalid("deploy host \"" + r.url + "\" must be https://HOST:PORT" + hint);
  }
  while (r.url.size() > kScheme.size() && r.url.back() == '/') r.url.pop_back();
  std::string_view rest = std::string_view(r.url).substr(kScheme.size());
  if (rest.empty() || rest[0] == ':' || rest[0] == '/' || HasCrLf(rest) ||
      rest.find_first_of(" ?#@") != std::string_view::npos)
    return FailInvalid("deploy host \"" + r.url + "\" must be https://HOST:PORT");
  r.token = std::string(Trim(r.token));
  if (HasCrLf(r.token) || r.token.find(' ') != std::string::npos)
    return FailInvalid("the deploy token has spaces or line breaks inside; check --token-file");
  if (!r.key.empty() && r.cert.empty()) return FailInvalid("--key needs --cert (the client certificate)");
  if (!r.cacert.empty()) TRY(CheckReadable(r.cacert, "CA file", "--cacert"));
  if (!r.cert.empty()) TRY(CheckReadable(r.cert, "client certificate", "--cert"));
  if (!r.key.empty()) TRY(CheckReadable(r.key, "client key", "--key"));

  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return FailInvalid("cannot start libcurl (curl_easy_init failed)");
  return std::unique_ptr<Transport>(std::make_unique<HttpsTransport>(std::move(r), std::move(curl)));
}

}  // namespace moor::api
