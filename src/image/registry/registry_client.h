// A client for one repository of an OCI Distribution / Docker Registry v2
// server, over libcurl.
//
// Auth: requests go out anonymously first; a 401 with WWW-Authenticate
// "Bearer realm=…,service=…,scope=…" fetches a token from the realm (with the
// credentials from ~/.docker/config.json when there are some, else
// anonymously) and caches it per scope until it expires; "Basic realm=…"
// sends the credentials. TLS uses the system CAs plus, per registry host,
// every *.crt in <cert_dir>/<host[:port]>/ (client certs: *.cert + *.key);
// plain HTTP only for hosts in insecure_registries (and, as Docker does,
// 127.0.0.0/8 and ::1 are treated as insecure-allowed: TLS first, HTTP when
// the server does not speak TLS).
// Retries: connection errors, 5xx and 429 are retried with exponential
// backoff (base 200 ms, `retries` times); blob downloads resume with Range
// from the ingest offset.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"
#include "image/core/reference.h"
#include "image/store/content_store.h"

namespace moor::image {

struct RegistryOptions {
  // Where credentials are read; empty: $DOCKER_CONFIG/config.json or
  // ~/.docker/config.json.
  std::string docker_config;
  std::vector<std::string> insecure_registries;  // "host:port" (plain HTTP allowed)
  std::vector<std::string> cert_dirs = {"/etc/moor/certs.d", "/etc/docker/certs.d"};
  int retries = 5;
  int connect_timeout_s = 15;
  // A transfer slower than 1 KiB/s for this long is aborted (then retried).
  int low_speed_timeout_s = 30;
  std::string user_agent = "moor/0.1";
};

struct FetchedManifest {
  std::string bytes;
  std::string media_type;  // from Content-Type (or the document)
  Digest digest;           // sha256 of bytes; checked against a requested digest
};

// Progress of one blob transfer: bytes done so far and the total (-1: unknown).
using TransferProgress = std::function<void(int64_t done, int64_t total)>;

class RegistryClient {
 public:
  // `repo` names the registry and repository; its tag/digest are ignored.
  static Result<std::unique_ptr<RegistryClient>> Create(const Reference& repo, const RegistryOptions& opts);
  virtual ~RegistryClient() = default;

  // GET /v2/<name>/manifests/<ref> with Accept for OCI + Docker manifests and
  // indexes. `ref` is a tag or a digest string.
  virtual Result<FetchedManifest> GetManifest(const std::string& ref) = 0;
  // Downloads a blob into the store (resumable ingest, verified digest).
  // Thread-safe: several blobs may be fetched in parallel on one client.
  virtual Result<void> FetchBlob(const Descriptor& d, ContentStore& store, const TransferProgress& progress) = 0;
  // HEAD /v2/<name>/blobs/<digest>: size when present, nullopt when not.
  virtual Result<std::optional<int64_t>> BlobExists(const Digest& d) = 0;
  // POST …/blobs/uploads/?mount=<d>&from=<repo path>: true when mounted.
  virtual Result<bool> MountBlob(const Digest& d, const std::string& from_path) = 0;
  // Uploads a blob from the store unless the registry has it (HEAD first);
  // returns true when bytes were sent.
  virtual Result<bool> PushBlob(const Descriptor& d, const ContentStore& store, const TransferProgress& progress) = 0;
  // PUT /v2/<name>/manifests/<ref>.
  virtual Result<void> PutManifest(const std::string& ref, const std::string& bytes, const std::string& media_type) = 0;
};

// `moor login`: checks the credentials against https://<registry>/v2/ (Basic,
// or the token flow) and, when accepted, stores them in the Docker config
// file ("auths": {"<registry>": {"auth": base64(user:pass)}}), keeping every
// other field of that file. `moor logout` removes the entry (false: there was
// none, which is not an error).
Result<void> Login(const std::string& registry, const std::string& user, const std::string& password,
                   const RegistryOptions& opts);
Result<bool> Logout(const std::string& registry, const RegistryOptions& opts);

}  // namespace moor::image
