#include "image/registry/http.h"

#include <unistd.h>

#include <cctype>
#include <mutex>

#include "common/strings.h"

namespace moor::image::registry {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// State shared by the callbacks of one transfer.
struct Transfer {
  const HttpRequest* req = nullptr;
  HttpResponse* resp = nullptr;
  std::optional<Error> sink_error;
  bool body_too_large = false;
  int64_t upload_offset = 0;
  std::optional<Error> upload_error;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or a 100 Continue): start over.
    t->resp->headers.clear();
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      t->resp->status = static_cast<long>(ParseInt(line.substr(sp + 1, 3)).value_or(0));
    }
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(Trim(line.substr(0, colon)));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t->resp->headers.emplace(std::move(name), std::string(Trim(line.substr(colon + 1))));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  bool ok_status = t->resp->status >= 200 && t->resp->status < 300;
  if (ok_status && t->req->sink) {
    auto r = t->req->sink(*t->resp, data, len);
    if (!r) {
      t->sink_error = std::move(r.error());
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (t->resp->body.size() + len > t->req->max_body) {
    t->body_too_large = true;
    return 0;
  }
  t->resp->body.append(data, len);
  return len;
}

size_t OnUpload(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  int64_t left = t->req->body_size - t->upload_offset;
  if (left <= 0) return 0;
  size_t want = std::min(size * n, static_cast<size_t>(left));
  ssize_t got;
  do {
    got = ::pread(t->req->body_fd, buf, want, t->upload_offset);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    t->upload_error = Error::FromErrno("read blob for upload");
    return CURL_READFUNC_ABORT;
  }
  if (got == 0) {
    t->upload_error = Error::Invalid("blob file is shorter than its recorded size");
    return CURL_READFUNC_ABORT;
  }
  t->upload_offset += got;
  return static_cast<size_t>(got);
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->req->progress) return 0;
  if (ulnow > 0 || ultotal > 0) {
    t->req->progress(ulnow, ultotal > 0 ? ultotal : -1);
  } else if (t->resp->status >= 200 && t->resp->status < 300) {
    t->req->progress(dlnow, dltotal > 0 ? dltotal : -1);
  }
  return 0;
}

}  // namespace

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::vector<std::string> HttpResponse::Headers(const std::string& lower_name) const {
  std::vector<std::string> out;
  auto [lo, hi] = headers.equal_range(lower_name);
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

bool IsRetryableTransport(const Error& e) {
  if (e.errnum() < kTransportErrno) return false;
  switch (static_cast<CURLcode>(e.errnum() - kTransportErrno)) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool IsTlsHandshakeFailure(const Error& e) {
  return e.errnum() == kTransportErrno + CURLE_SSL_CONNECT_ERROR;
}

Result<HttpResponse> Perform(const HttpRequest& req, const TlsConfig& tls, const HttpOptions& opts) {
  GlobalInit();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return FailInvalid("curl_easy_init failed");
  CURL* h = curl.get();
  HttpResponse resp;
  Transfer t;
  t.req = &req;
  t.resp = &resp;
  char errbuf[CURL_ERROR_SIZE] = {};

  curl_slist* raw_headers = nullptr;
  for (const std::string& hdr : req.headers) raw_headers = curl_slist_append(raw_headers, hdr.c_str());
  // libcurl adds "Expect: 100-continue" to large uploads; registries do not need the round trip.
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  std::unique_ptr<curl_slist, SlistDeleter> header_list(raw_headers);

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_USERAGENT, opts.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opts.connect_timeout_s));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opts.low_speed_timeout_s));
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  // Authorization is never sent to a redirect target on another host (blob
  // storage uses signed URLs of its own): libcurl's default, stated here.
  curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);

  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.body_fd >= 0) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, OnUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
    // CURLOPT_UPLOAD implies PUT; keep the method asked for.
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }

  if (!tls.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!tls.client_cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, tls.client_cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, tls.client_key.c_str());
  }
  if (!tls.verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  CURLcode rc = curl_easy_perform(h);
  if (t.sink_error) return Fail(std::move(*t.sink_error));
  if (t.upload_error) return Fail(std::move(*t.upload_error));
  if (t.body_too_large) {
    return FailInvalid(req.method + " " + req.url + ": response larger than " + std::to_string(req.max_body) +
                       " bytes");
  }
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] != '\0' ? std::string(Trim(errbuf)) : curl_easy_strerror(rc);
    return Fail(Error(kTransportErrno + rc, req.method + " " + req.url + ": " + detail));
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  resp.status = status;
  char* eff = nullptr;
  curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff != nullptr) resp.effective_url = eff;
  return resp;
}

}  // namespace moor::image::registry
