// Loki push API over libcurl. One easy handle lives as long as the output,
// so its connection is kept alive between pushes.
//   2xx            delivered
//   429, 5xx, no answer   the same batch is retried after a backoff
//   other 4xx      the receiver refuses this body (bad labels, too old,
//                  too large): resending cannot help, the batch is dropped
//                  and counted
#include <curl/curl.h>

#include <cerrno>
#include <mutex>
#include <vector>

#include "logship/output/transport.h"

namespace moor::logship::internal {
namespace {

// Response bytes kept for the error line.
constexpr size_t kMaxBody = 512;

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The answer's first line, short, for last_error.
std::string Snippet(const std::string& body) {
  std::string out;
  for (char c : body) {
    if (c == '\n' || c == '\r') {
      if (!out.empty()) break;
      continue;
    }
    if (out.size() >= 160) {
      out += "...";
      break;
    }
    out.push_back(c);
  }
  return out;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t len = size * n;
  if (body->size() < kMaxBody) body->append(data, std::min(len, kMaxBody - body->size()));
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const StopSignal*>(user)->raised() ? 1 : 0;  // non-zero aborts the transfer
}

class LokiTransport : public Transport {
 public:
  LokiTransport(const OutputConfig& cfg, const StopSignal& stop) : cfg_(cfg), stop_(stop) {
    url_ = cfg.address;
    // Path /loki/api/v1/push unless the address carries one.
    size_t scheme = url_.find("://");
    size_t path = url_.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (path == std::string::npos) url_ += "/loki/api/v1/push";
  }

  ~LokiTransport() override {
    if (headers_ != nullptr) curl_slist_free_all(headers_);
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  // Sets up the handle once, then checks that the receiver takes a
  // connection (pushes are requests, not a connection: without this check an
  // output would show "connected" with Loki down until the next push).
  Result<void> Connect() override {
    if (curl_ == nullptr) TRY(Init());
    return Reachable();
  }

  bool ProbeWhenIdle() const override { return true; }

  Result<void> Init() {
    if (!url_.starts_with("http://") && !url_.starts_with("https://")) {
      return FailInvalid("address must start with http:// or https://");
    }
    CurlGlobalInit();
    curl_ = curl_easy_init();
    if (curl_ == nullptr) return Fail(Error(ENOMEM, "curl_easy_init failed"));
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    // No "Expect: 100-continue" round trip before large bodies.
    headers_ = curl_slist_append(headers_, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.timeout_ns / 1'000'000));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.timeout_ns / 1'000'000));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body_);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &stop_);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf_);
    return {};
  }

  // A TCP (and TLS) connection to the push URL's host, closed again.
  Result<void> Reachable() {
    CURL* p = curl_easy_init();
    if (p == nullptr) return Fail(Error(ENOMEM, "curl_easy_init failed"));
    char err[CURL_ERROR_SIZE] = {};
    long ms = static_cast<long>(cfg_.timeout_ns / 1'000'000);
    curl_easy_setopt(p, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(p, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(p, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(p, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(p, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(p, CURLOPT_NOPROGRESS, 0L);  // Stop() ends a slow connect too
    curl_easy_setopt(p, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(p, CURLOPT_XFERINFODATA, &stop_);
    CURLcode rc = curl_easy_perform(p);
    curl_easy_cleanup(p);
    if (rc == CURLE_OK) return {};
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Fail(Error(ECANCELED, "stopped"));
    return Fail(Error(EIO, std::string("connect: ") + (err[0] != '\0' ? err : curl_easy_strerror(rc))));
  }

  // The handle (and its kept-alive connection) survives errors: libcurl
  // reconnects by itself when the connection is gone.
  void Close() override {}

  Result<SendOutcome> Send(std::span<const SpooledRecord> recs) override {
    batch_.clear();
    for (const SpooledRecord& r : recs) batch_.emplace_back(r.record, r.source);
    request_.clear();
    EncodeLokiPush(batch_, cfg_.loki_labels, &request_);
    body_.clear();
    errbuf_[0] = '\0';
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, request_.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_.size()));
    CURLcode rc = curl_easy_perform(curl_);
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Fail(Error(ECANCELED, "stopped"));
    if (rc != CURLE_OK) {
      std::string why = errbuf_[0] != '\0' ? errbuf_ : curl_easy_strerror(rc);
      return Fail(Error(EIO, "push: " + why));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    SendOutcome out;
    out.ticket = ++sent_;
    out.bytes = request_.size();
    if (status >= 200 && status < 300) return out;
    std::string line = "push answered " + std::to_string(status);
    if (!body_.empty()) line += ": " + Snippet(body_);
    if (status == 429 || status >= 500 || status < 400) return Fail(Error(EIO, line));
    out.rejected = recs.size();
    out.bytes = 0;
    out.rejection = line + " (" + std::to_string(recs.size()) + " records dropped)";
    return out;
  }

  Result<uint64_t> Confirmed() override { return sent_; }

 private:
  const OutputConfig& cfg_;
  const StopSignal& stop_;
  std::string url_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  char errbuf_[CURL_ERROR_SIZE] = {};
  std::vector<std::pair<Record, const SourceMeta*>> batch_;
  std::string request_, body_;
  uint64_t sent_ = 0;
};

}  // namespace

std::unique_ptr<Transport> NewLokiTransport(const OutputConfig& cfg, const StopSignal& stop) {
  return std::make_unique<LokiTransport>(cfg, stop);
}

}  // namespace moor::logship::internal
