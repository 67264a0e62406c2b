// The daemon's deploy service (docs/design/deploy.md, docs/api.md "Deploys"):
// upload sessions into the release store, the switch of a service to a
// release (reload: flip `current` and signal; rolling: new containers, the
// catalog gate, then the old ones retired), rollback, retention and garbage
// collection, recovery of interrupted deploys at start, and the tokens of the
// remote endpoint. Containers are driven through the AppBackend role (the
// same operations `moor up` uses), the catalog through ReleaseGate.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "app/app_backend.h"
#include "common/error.h"
#include "deploy/ledger/ledger.h"
#include "deploy/store/release_store.h"

namespace moor::deploy {

// The catalog, as the rolling switch needs it.
class ReleaseGate {
 public:
  virtual ~ReleaseGate() = default;
  // Only instances whose ServiceMeta moor-release equals `release` are
  // served for `service` ("" clears). Returns the catalog index of the change.
  virtual Result<uint64_t> SetLive(const std::string& service, const std::string& release) = 0;
  // True once every template using `service` rendered at `index` or later.
  virtual bool WaitRendered(const std::string& service, uint64_t index, int64_t timeout_ns) = 0;
};

struct DeployOptions {
  std::string root;             // ROOT/deploy
  int keep = 5;                 // releases kept per service besides the live one
  int64_t ready_timeout_ns = 120'000'000'000;
  int64_t grace_ns = 30'000'000'000;  // the previous live release is kept this long
};

// A new AppBackend per operation (one connection each, so concurrent
// deploys of different services do not share one).
using BackendFactory = std::function<Result<std::unique_ptr<app::AppBackend>>()>;

// A line of a streamed commit/rollback answer.
using ProgressFn = std::function<void(const nlohmann::json&)>;

class DeployService {
 public:
  static Result<std::unique_ptr<DeployService>> Open(const DeployOptions& o, BackendFactory backends,
                                                     ReleaseGate* gate);
  ~DeployService();

  // Every route (the daemon's socket).
  void AddRoutes(api::Router& router);
  // The R routes (docs/api.md) for the remote endpoint: each checks the
  // bearer token (or a client certificate identity) first.
  void AddRemoteRoutes(api::Router& router);

  // At daemon start, once the API is served: finishes or fails what an
  // interrupted deploy left (docs/design/deploy.md PlanRecovery).
  void Recover();

  // ---- the operations behind the routes (tests call them directly)
  Result<nlohmann::json> PutService(const std::string& app, const std::string& svc, const nlohmann::json& body);
  Result<nlohmann::json> ListServices(const std::string& app);
  Result<nlohmann::json> OpenSession(const nlohmann::json& body, const std::string& who);
  Result<nlohmann::json> Have(const std::string& session, const nlohmann::json& body);
  Result<PackResult> PutBlobs(const std::string& session, std::string_view pack);
  Result<int64_t> PutBlobPart(const std::string& session, const std::string& digest, int64_t offset, int64_t size,
                              std::string_view data, int64_t* current_offset);
  Result<PackResult> PutTrees(const std::string& session, std::string_view pack, std::vector<image::Digest>* missing);
  // Materialise and switch; returns the release now live.
  Result<int64_t> Commit(const std::string& session, const ProgressFn& progress);
  Result<int64_t> Rollback(const std::string& app, const std::string& svc, std::optional<int64_t> release,
                           const std::string& who, const ProgressFn& progress);
  Result<nlohmann::json> Releases(const std::string& app, const std::string& svc);
  Result<nlohmann::json> Prune(const std::string& app, const std::string& svc, std::optional<int> keep);
  Result<nlohmann::json> CreateToken(const std::string& name, const std::string& app);
  Result<nlohmann::json> ListTokens();
  Result<void> RemoveToken(const std::string& name);
  // The token's name when `authorization` ("Bearer X") names a known token
  // allowed for `app` ("" = any); an error (EACCES) otherwise.
  Result<std::string> Authenticate(const std::string& authorization, const std::string& app);

 private:
  struct Impl;
  explicit DeployService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::deploy
