// RegistryClient over an Endpoint: the Distribution API calls themselves.
#include "image/registry/registry_client.h"

#include <algorithm>
#include <memory>

#include "common/strings.h"
#include "image/registry/endpoint.h"
#include "image/registry/url.h"

namespace moor::image {
namespace {

using registry::Endpoint;
using registry::HttpRequest;
using registry::HttpResponse;
using registry::StatusError;

constexpr size_t kMaxManifestBytes = 4 << 20;

std::string MediaTypeOf(const std::string& content_type) {
  return std::string(Trim(std::string_view(content_type).substr(0, content_type.find(';'))));
}

class DistributionClient final : public RegistryClient {
 public:
  DistributionClient(Reference repo, std::unique_ptr<Endpoint> ep) : repo_(std::move(repo)), ep_(std::move(ep)) {}

  Result<FetchedManifest> GetManifest(const std::string& ref) override;
  Result<void> FetchBlob(const Descriptor& d, ContentStore& store, const TransferProgress& progress) override;
  Result<std::optional<int64_t>> BlobExists(const Digest& d) override;
  Result<bool> MountBlob(const Digest& d, const std::string& from_path) override;
  Result<bool> PushBlob(const Descriptor& d, const ContentStore& store, const TransferProgress& progress) override;
  Result<void> PutManifest(const std::string& ref, const std::string& bytes, const std::string& media_type) override;

 private:
  Result<std::string> Url(const std::string& suffix) {
    std::string base = TRY(ep_->BaseUrl());
    return base + "/v2/" + repo_.path + suffix;
  }
  std::vector<std::string> PullScope() const { return {registry::RepositoryScope(repo_.path, false)}; }
  std::vector<std::string> PushScope() const { return {registry::RepositoryScope(repo_.path, true)}; }
  // One attempt at downloading the rest of the blob into `ingest`.
  Result<void> FetchOnce(const Descriptor& d, Ingest& ingest, const TransferProgress& progress);
  Result<void> Upload(const Descriptor& d, const ContentStore& store, const TransferProgress& progress);
  // 401/403 after the auth flow: the credentials do not allow it.
  Error AuthError(const std::string& what, const HttpResponse& resp) const {
    return StatusError(what + " (not authorized for " + repo_.Repository() + ": check `moor login " + repo_.domain +
                           "` and that the repository exists)",
                       resp);
  }

  Reference repo_;
  std::unique_ptr<Endpoint> ep_;
};

Result<FetchedManifest> DistributionClient::GetManifest(const std::string& ref) {
  HttpRequest req;
  req.url = TRY(Url("/manifests/" + ref));
  req.headers = {"Accept: " + std::string(media::kOciIndex) + ", " + std::string(media::kDockerManifestList) + ", " +
                 std::string(media::kOciManifest) + ", " + std::string(media::kDockerManifest)};
  req.max_body = kMaxManifestBytes;
  HttpResponse resp = TRY_CTX(ep_->SendRetrying(req, PullScope()), "get manifest " + repo_.path + ":" + ref);
  std::string what = "get manifest for " + repo_.Repository() + (StartsWith(ref, "sha256:") ? "@" : ":") + ref;
  if (resp.status == 404) return Fail(StatusError(what + ": not found", resp));
  if (resp.status == 401 || resp.status == 403) return Fail(AuthError(what, resp));
  if (resp.status != 200) return Fail(StatusError(what, resp));
  FetchedManifest m;
  m.bytes = std::move(resp.body);
  m.media_type = MediaTypeOf(resp.Header("content-type"));
  m.digest = Sha256Of(m.bytes);
  if (StartsWith(ref, "sha256:")) {
    Digest want = TRY(Digest::Parse(ref));
    if (want != m.digest) {
      return FailInvalid(what + ": registry sent content with digest " + m.digest.str() + " (wrong content)");
    }
  }
  return m;
}

// "bytes 100-199/200" → 100; nullopt when absent or malformed.
std::optional<int64_t> ContentRangeStart(const std::string& header) {
  std::string_view v = Trim(header);
  if (!StartsWith(v, "bytes ")) return std::nullopt;
  v.remove_prefix(6);
  auto start = ParseInt(v.substr(0, v.find('-')));
  if (!start) return std::nullopt;
  return *start;
}

Result<void> DistributionClient::FetchOnce(const Descriptor& d, Ingest& ingest, const TransferProgress& progress) {
  HttpRequest req;
  req.url = TRY(Url("/blobs/" + d.digest.str()));
  req.follow_redirects = true;
  int64_t offset = ingest.Offset();
  if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
  bool started = false;
  int64_t written = offset;
  int64_t total = d.size > 0 ? d.size : -1;
  // The status and headers are known when the first body byte arrives: a 200
  // to a Range request means the server sends everything again, so the
  // partial data is dropped before the first write.
  req.sink = [&](const HttpResponse& head, const char* data, size_t n) -> Result<void> {
    if (!started) {
      started = true;
      if (offset > 0) {
        std::optional<int64_t> range_start;
        if (head.status == 206) range_start = ContentRangeStart(head.Header("content-range"));
        if (range_start != offset) {
          TRY(ingest.Reset());
          written = 0;
          if (head.status == 206) {
            // EAGAIN: the next attempt starts from byte 0.
            return Fail(Error(EAGAIN, "registry answered a Range request for " + d.digest.str() +
                                          " with a different range (" + head.Header("content-range") + ")"));
          }
        }
      }
    }
    TRY(ingest.Write(data, n));
    written += static_cast<int64_t>(n);
    if (total > 0 && written > total) {
      return FailInvalid("blob " + d.digest.str() + " is larger than its descriptor's size " + std::to_string(total));
    }
    if (progress) progress(written, total);
    return {};
  };
  HttpResponse resp = TRY(ep_->Send(req, PullScope()));
  std::string what = "get blob " + d.digest.str() + " of " + repo_.Repository();
  if (resp.status == 416 && offset > 0) {
    // The partial data is at least as long as the blob: start again.
    TRY(ingest.Reset());
    return Fail(Error(EAGAIN, what + ": range not satisfiable, restarting"));
  }
  if (resp.status == 401 || resp.status == 403) return Fail(AuthError(what, resp));
  if (resp.status == 404) return Fail(StatusError(what + ": not found", resp));
  if (resp.status < 200 || resp.status >= 300) {
    Error e = StatusError(what, resp);
    if (resp.status >= 500 || resp.status == 429) return Fail(Error(EAGAIN, e.message()));
    return Fail(std::move(e));
  }
  if (!started && offset > 0 && resp.status == 200 && total != 0) {
    // An empty 200 answer to a Range request: nothing usable.
    TRY(ingest.Reset());
  }
  return {};
}

Result<void> DistributionClient::FetchBlob(const Descriptor& d, ContentStore& store, const TransferProgress& progress) {
  std::unique_ptr<Ingest> ingest = TRY(store.BeginIngest(d.digest, d.size > 0 ? d.size : -1));
  if (ingest->AlreadyPresent()) {
    if (progress) progress(d.size, d.size);
    return {};
  }
  for (int attempt = 0;; ++attempt) {
    Result<void> r = FetchOnce(d, *ingest, progress);
    if (r) {
      Result<void> committed = ingest->Commit();
      if (committed) return {};
      // A digest mismatch discarded the data; a fresh download may fix a
      // corrupted transfer, a registry serving wrong bytes fails again.
      r = Fail(std::move(committed.error()));
      if (attempt >= 1) return r;
    } else {
      bool transient = r.error().errnum() == EAGAIN || registry::IsRetryableTransport(r.error());
      if (!transient || attempt >= ep_->retries()) return r;
    }
    // Progress keeps the partial data: the next attempt resumes with Range.
    Endpoint::Backoff(attempt);
  }
}

Result<std::optional<int64_t>> DistributionClient::BlobExists(const Digest& d) {
  HttpRequest req;
  req.method = "HEAD";
  req.url = TRY(Url("/blobs/" + d.str()));
  req.follow_redirects = true;
  HttpResponse resp = TRY(ep_->SendRetrying(req, PushScope()));
  if (resp.status == 404) return std::optional<int64_t>();
  std::string what = "check blob " + d.str() + " in " + repo_.Repository();
  if (resp.status == 401 || resp.status == 403) return Fail(AuthError(what, resp));
  if (resp.status != 200) return Fail(StatusError(what, resp));
  return std::optional<int64_t>(ParseInt(resp.Header("content-length")).value_or(-1));
}

Result<bool> DistributionClient::MountBlob(const Digest& d, const std::string& from_path) {
  HttpRequest req;
  req.method = "POST";
  std::string url = TRY(Url("/blobs/uploads/"));
  url = registry::AppendQuery(url, "mount", d.str());
  req.url = registry::AppendQuery(url, "from", from_path);
  std::vector<std::string> scopes = PushScope();
  scopes.push_back(registry::RepositoryScope(from_path, false));
  HttpResponse resp = TRY(ep_->SendRetrying(req, scopes));
  if (resp.status == 201) return true;
  if (resp.status == 202) {
    // Not mounted (the source lacks it or we may not read it): the registry
    // opened an upload session instead; cancel it, the caller uploads.
    if (std::string loc = resp.Header("location"); !loc.empty()) {
      HttpRequest cancel;
      cancel.method = "DELETE";
      cancel.url = registry::ResolveLocation(resp.effective_url.empty() ? req.url : resp.effective_url, loc);
      (void)ep_->Send(cancel, PushScope());
    }
    return false;
  }
  if (resp.status == 401 || resp.status == 403 || resp.status == 404) return false;
  return Fail(StatusError("mount blob " + d.str() + " from " + from_path + " into " + repo_.Repository(), resp));
}

Result<void> DistributionClient::Upload(const Descriptor& d, const ContentStore& store,
                                        const TransferProgress& progress) {
  std::string what = "push blob " + d.digest.str() + " to " + repo_.Repository();
  HttpRequest start;
  start.method = "POST";
  start.url = TRY(Url("/blobs/uploads/"));
  HttpResponse opened = TRY_CTX(ep_->SendRetrying(start, PushScope()), what);
  if (opened.status == 401 || opened.status == 403) return Fail(AuthError(what, opened));
  if (opened.status != 202) return Fail(StatusError(what + ": start upload", opened));
  std::string location = opened.Header("location");
  if (location.empty()) return FailInvalid(what + ": registry sent no upload Location");
  UniqueFd fd = TRY(store.Open(d.digest));
  int64_t size = TRY(store.Size(d.digest));
  // Monolithic upload: one PUT with the whole blob and the digest.
  HttpRequest put;
  put.method = "PUT";
  put.url = registry::AppendQuery(registry::ResolveLocation(start.url, location), "digest", d.digest.str());
  put.headers = {"Content-Type: application/octet-stream"};
  put.body_fd = fd.get();
  put.body_size = size;
  if (progress) put.progress = [&](int64_t done, int64_t) { progress(done, size); };
  HttpResponse done = TRY_CTX(ep_->Send(put, PushScope()), what);
  if (done.status == 401 || done.status == 403) return Fail(AuthError(what, done));
  if (done.status != 201) {
    Error e = StatusError(what, done);
    if (done.status >= 500 || done.status == 429) return Fail(Error(EAGAIN, e.message()));
    return Fail(std::move(e));
  }
  if (progress) progress(size, size);
  return {};
}

Result<bool> DistributionClient::PushBlob(const Descriptor& d, const ContentStore& store,
                                          const TransferProgress& progress) {
  if (TRY(BlobExists(d.digest))) return false;
  if (!store.Has(d.digest)) {
    return FailInvalid("blob " + d.digest.str() + " is not in the local content store (pull the image again)");
  }
  for (int attempt = 0;; ++attempt) {
    Result<void> r = Upload(d, store, progress);
    if (r) return true;
    bool transient = r.error().errnum() == EAGAIN || registry::IsRetryableTransport(r.error());
    if (!transient || attempt >= ep_->retries()) return Fail(std::move(r.error()));
    Endpoint::Backoff(attempt);
  }
}

Result<void> DistributionClient::PutManifest(const std::string& ref, const std::string& bytes,
                                             const std::string& media_type) {
  HttpRequest req;
  req.method = "PUT";
  req.url = TRY(Url("/manifests/" + ref));
  req.headers = {"Content-Type: " + media_type};
  req.body = bytes;
  HttpResponse resp = TRY(ep_->SendRetrying(req, PushScope()));
  std::string what = "push manifest " + repo_.Repository() + ":" + ref;
  if (resp.status == 401 || resp.status == 403) return Fail(AuthError(what, resp));
  if (resp.status != 201 && resp.status != 200) return Fail(StatusError(what, resp));
  return {};
}

}  // namespace

Result<std::unique_ptr<RegistryClient>> RegistryClient::Create(const Reference& repo, const RegistryOptions& opts) {
  std::unique_ptr<Endpoint> ep = TRY(Endpoint::Create(repo.RegistryHost(), repo.domain, opts));
  return std::unique_ptr<RegistryClient>(new DistributionClient(repo, std::move(ep)));
}

}  // namespace moor::image
