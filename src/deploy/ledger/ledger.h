// The deploy ledger (ROOT/deploy/deploy.db, SQLite): per-service deploy
// settings, every release of every service and its state, each switch, and
// the tokens of the remote endpoint. docs/design/deploy.md §4.
//
// Release states: uploading → materialised → switching → live → retired;
// any of them can become failed. A release id is max+1 per service, never
// reused. Times are unix nanoseconds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor::deploy {

enum class ReleaseState { kUploading, kMaterialised, kSwitching, kLive, kRetired, kFailed };
std::string_view StateName(ReleaseState s);  // "uploading", …
Result<ReleaseState> ParseState(std::string_view s);

// What `moor up` tells the daemon about a service with `code:` (the daemon
// needs it to make containers during a rolling deploy).
struct ServiceRecord {
  std::string app, service;
  std::string strategy = "reload";  // reload | rolling
  int batch = 1;
  std::string reload_signal = "SIGUSR2";  // or "none"
  std::string record_json;                // opaque to the ledger (deploy_service's record)
  std::optional<int64_t> live_release;    // set only by CommitLive
  int64_t updated_ns = 0;
};

struct ReleaseRow {
  std::string app, service;
  int64_t id = 0;
  std::string code_digest;  // "sha256:…" of the root tree ("" for an image-only release)
  std::string image_ref, image_id;
  std::string config_digest;
  ReleaseState state = ReleaseState::kUploading;
  std::string who;
  std::string session;  // upload session id (hex), "" when none
  std::string kind = "deploy";  // deploy | image | rollback-target (informational)
  int64_t created_ns = 0, live_ns = 0, retired_ns = 0;
  std::string instances_json = "[]";  // container names that ran it
  int64_t files_sent = 0, bytes_sent = 0;
  std::string error;
};

struct SwitchRow {
  int64_t seq = 0;
  std::string app, service;
  int64_t from_id = 0;  // 0: none
  int64_t to_id = 0;
  std::string kind;  // deploy | rollback | image
  std::string who;
  int64_t at_ns = 0;
};

struct TokenRow {
  std::string name;
  std::string sha256_hex;  // of the token's bytes
  std::string app;         // "" = every app
  int64_t created_ns = 0;
};

class Ledger {
 public:
  static Result<std::unique_ptr<Ledger>> Open(const std::string& path);
  static Result<std::unique_ptr<Ledger>> OpenMemory();
  ~Ledger();

  // ---- services
  // Insert or update (live_release is kept as is).
  Result<void> PutService(const ServiceRecord& r);
  Result<std::optional<ServiceRecord>> GetService(const std::string& app, const std::string& svc);
  Result<std::vector<ServiceRecord>> ListServices(const std::string& app = "");  // "" = all
  // Removes the service, its releases and switches (moor down -v).
  Result<void> RemoveService(const std::string& app, const std::string& svc);

  // ---- releases
  // A new row in state uploading with id = max+1 (fields of `r` other than
  // app/service/id/state are stored as given). Returns the row as stored.
  Result<ReleaseRow> NewRelease(const ReleaseRow& r);
  Result<std::optional<ReleaseRow>> GetRelease(const std::string& app, const std::string& svc, int64_t id);
  Result<std::optional<ReleaseRow>> FindSession(const std::string& session);
  // The newest release of the service in state uploading with these digests.
  Result<std::optional<ReleaseRow>> FindUploading(const std::string& app, const std::string& svc,
                                                  const std::string& code_digest, const std::string& image_ref);
  // Newest first; every service when svc is "" (and every app when app is "").
  Result<std::vector<ReleaseRow>> ListReleases(const std::string& app = "", const std::string& svc = "");
  // Releases in uploading, materialised or switching (for recovery), any service.
  Result<std::vector<ReleaseRow>> ListUnfinished();
  Result<void> SetState(const std::string& app, const std::string& svc, int64_t id, ReleaseState s,
                        const std::string& error = "");
  Result<void> AddSent(const std::string& app, const std::string& svc, int64_t id, int64_t files, int64_t bytes);
  Result<void> SetInstances(const std::string& app, const std::string& svc, int64_t id,
                            const std::string& instances_json);
  // One transaction: services.live_release = to; release `to` live (live_ns =
  // now); the previous live one retired (retired_ns = now); a switches row.
  Result<void> CommitLive(const std::string& app, const std::string& svc, int64_t to, const std::string& kind,
                          const std::string& who, int64_t now_ns);
  Result<std::vector<SwitchRow>> ListSwitches(const std::string& app, const std::string& svc);

  // ---- tokens (only the sha256 of a token is stored)
  Result<void> PutToken(const TokenRow& t);  // EEXIST when the name is taken
  Result<std::optional<TokenRow>> FindTokenByHash(const std::string& sha256_hex);
  Result<std::vector<TokenRow>> ListTokens();
  Result<bool> RemoveToken(const std::string& name);

 private:
  struct Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::deploy
