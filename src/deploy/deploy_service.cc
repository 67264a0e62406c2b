// Deploy service: opening, service records, upload sessions, the ledger's
// views and the tokens. The switch is in deploy_switch.cc.
#include "deploy/deploy_service.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "common/log.h"
#include "deploy/deploy_internal.h"
#include "image/core/digest.h"

namespace moor::deploy {

using nlohmann::json;

namespace {

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return "";
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool ValidName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '@') return false;
  }
  return s != "." && s != "..";
}

Result<std::vector<image::Digest>> DigestList(const json& j, const char* key) {
  std::vector<image::Digest> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_array()) return FailInvalid(std::string("\"") + key + "\" must be a list of sha256 digests");
  for (auto& d : j[key]) {
    if (!d.is_string()) return FailInvalid(std::string("\"") + key + "\" must be a list of sha256 digests");
    out.push_back(TRY(image::Digest::Parse(d.get<std::string>())));
  }
  return out;
}

// Uploads go only to a release still uploading.
Result<void> Uploading(const ReleaseRow& row) {
  if (row.state == ReleaseState::kUploading) return {};
  return Fail(Error(EBUSY, "release " + std::to_string(row.id) + " is " + std::string(StateName(row.state)) +
                               ": its upload is over; run moor deploy again"));
}

}  // namespace

int64_t UnixNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rfc3339(int64_t unix_ns) {
  if (unix_ns <= 0) return "";
  time_t t = static_cast<time_t>(unix_ns / 1'000'000'000);
  tm tmv{};
  gmtime_r(&t, &tmv);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  return buf;
}

int StatusOf(const Error& e) {
  switch (e.errnum()) {
    case ENOENT: return 404;
    case EEXIST:
    case EBUSY:
    case ESPIPE: return 409;
    case EACCES:
    case EPERM: return 401;
    case EINVAL: return 400;
    default: return 500;
  }
}

Result<ServiceConfig> ParseServiceConfig(const json& j) {
  if (!j.is_object()) return FailInvalid("the service record must be a JSON object");
  ServiceConfig c;
  if (j.contains("strategy")) c.strategy = Str(j, "strategy");
  if (c.strategy != "reload" && c.strategy != "rolling")
    return FailInvalid("strategy \"" + c.strategy + "\" is not reload or rolling");
  if (j.contains("batch")) {
    if (!j["batch"].is_number_integer() || j["batch"].get<int>() < 1) return FailInvalid("batch must be 1 or more");
    c.batch = j["batch"].get<int>();
  }
  if (j.contains("reload_signal")) c.reload_signal = Str(j, "reload_signal");
  if (c.reload_signal.empty()) c.reload_signal = "none";
  if (j.contains("replicas") && j["replicas"].is_number_integer()) c.replicas = j["replicas"].get<int>();
  c.image = Str(j, "image");
  if (j.contains("code_path")) c.code_path = Str(j, "code_path");
  if (c.code_path.empty() || c.code_path[0] != '/') return FailInvalid("code_path must be an absolute path");
  c.config_digest = Str(j, "config_digest");
  c.digest = Str(j, "digest");
  c.discovery_name = Str(j, "discovery_name");
  if (j.contains("stop_timeout_ns") && j["stop_timeout_ns"].is_number_integer())
    c.stop_timeout_ns = j["stop_timeout_ns"].get<int64_t>();
  if (j.contains("body")) {
    if (!j["body"].is_object()) return FailInvalid("\"body\" must be a container create body (an object)");
    c.body = j["body"];
  }
  if (j.contains("files")) {
    if (!j["files"].is_array()) return FailInvalid("\"files\" must be a list of {path, content, mode}");
    c.files = j["files"];
  }
  return c;
}

DeployService::DeployService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->janitor = std::thread([this] { impl_->JanitorLoop(); });
}

DeployService::~DeployService() {
  {
    std::lock_guard<std::mutex> g(impl_->janitor_mu);
    impl_->janitor_stop = true;
  }
  impl_->janitor_cv.notify_one();
  impl_->janitor.join();
}

Result<std::unique_ptr<DeployService>> DeployService::Open(const DeployOptions& o, BackendFactory backends,
                                                           ReleaseGate* gate) {
  auto impl = std::make_unique<Impl>();
  impl->opts = o;
  impl->backends = std::move(backends);
  impl->gate = gate;
  if (mkdir(o.root.c_str(), 0700) != 0 && errno != EEXIST) return FailErrno("create " + o.root);
  impl->store = TRY_CTX(ReleaseStore::Open(o.root), "deploy store");
  impl->ledger = TRY_CTX(Ledger::Open(o.root + "/deploy.db"), "deploy ledger");
  return std::unique_ptr<DeployService>(new DeployService(std::move(impl)));
}

std::shared_ptr<std::mutex> DeployService::Impl::SwitchLock(const std::string& app, const std::string& svc) {
  std::lock_guard<std::mutex> g(locks_mu);
  auto& m = switch_locks[app + "/" + svc];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

Result<std::pair<ServiceRecord, ServiceConfig>> DeployService::Impl::Service(const std::string& app,
                                                                            const std::string& svc) {
  auto rec = TRY(L([&](Ledger& l) { return l.GetService(app, svc); }));
  if (!rec) {
    return Fail(Error(ENOENT, "no service " + svc + " of app " + app +
                                  " takes deploys on this node: give it a code: block in moor.yaml and run moor up"));
  }
  json j = json::parse(rec->record_json, nullptr, false);
  auto cfg = TRY_CTX(ParseServiceConfig(j), "the stored record of " + app + "/" + svc);
  return std::make_pair(std::move(*rec), std::move(cfg));
}

Result<ReleaseRow> DeployService::Impl::SessionRow(const std::string& session) {
  auto row = TRY(L([&](Ledger& l) { return l.FindSession(session); }));
  if (!row) return Fail(Error(ENOENT, "no deploy session " + session + " on this node: run moor deploy again"));
  return *row;
}

void DeployService::Impl::NoteWritten(const std::string& session, const std::vector<image::Digest>& d) {
  std::lock_guard<std::mutex> g(written_mu);
  auto& v = written[session];
  v.insert(v.end(), d.begin(), d.end());
}

Result<json> DeployService::PutService(const std::string& app, const std::string& svc, const json& body) {
  if (!ValidName(app, 128) || !ValidName(svc, 128)) return FailInvalid("bad app or service name");
  // A record without a replica's body (moor up's first PUT, which learns
  // where the releases are) keeps the body and files stored before.
  json merged = body;
  if (merged.is_object() && !merged.contains("body")) {
    if (auto old = impl_->L([&](Ledger& l) { return l.GetService(app, svc); }); old && *old) {
      json prev = json::parse((*old)->record_json, nullptr, false);
      if (prev.is_object()) {
        for (const char* k : {"body", "files"}) {
          if (prev.contains(k)) merged[k] = prev[k];
        }
      }
    }
  }
  auto cfg = TRY(ParseServiceConfig(merged));
  ServiceRecord r;
  r.app = app;
  r.service = svc;
  r.strategy = cfg.strategy;
  r.batch = cfg.batch;
  r.reload_signal = cfg.reload_signal;
  r.record_json = merged.dump();
  r.updated_ns = UnixNowNs();
  TRY(impl_->L([&](Ledger& l) { return l.PutService(r); }));
  TRY(impl_->store->EnsureServiceDir(app, svc));
  auto got = TRY(impl_->Service(app, svc));
  json out = {{"releases_dir", impl_->store->ServiceDir(app, svc)}, {"live_release", nullptr}, {"live_code", ""}};
  if (got.first.live_release) {
    out["live_release"] = *got.first.live_release;
    auto row = TRY(impl_->L([&](Ledger& l) { return l.GetRelease(app, svc, *got.first.live_release); }));
    if (row) out["live_code"] = row->code_digest;
  }
  return out;
}

Result<json> DeployService::ListServices(const std::string& app) {
  auto recs = TRY(impl_->L([&](Ledger& l) { return l.ListServices(app); }));
  json out = json::array();
  for (auto& r : recs) {
    json j = {{"app", r.app},     {"service", r.service}, {"strategy", r.strategy},
              {"batch", r.batch}, {"live_release", nullptr}, {"live_code", ""},
              {"releases_dir", impl_->store->ServiceDir(r.app, r.service)}};
    if (r.live_release) {
      j["live_release"] = *r.live_release;
      auto row = TRY(impl_->L([&](Ledger& l) { return l.GetRelease(r.app, r.service, *r.live_release); }));
      if (row) j["live_code"] = row->code_digest;
    }
    out.push_back(std::move(j));
  }
  return out;
}

Result<json> DeployService::OpenSession(const json& body, const std::string& who) {
  if (!body.is_object()) return FailInvalid("the session request must be a JSON object");
  std::string app = Str(body, "app"), svc = Str(body, "service");
  auto [rec, cfg] = TRY(impl_->Service(app, svc));
  std::string image = Str(body, "image");
  std::string root = Str(body, "root");
  auto trees = TRY(DigestList(body, "trees"));
  std::optional<ReleaseRow> live;
  if (rec.live_release) live = TRY(impl_->L([&](Ledger& l) { return l.GetRelease(app, svc, *rec.live_release); }));
  if (root.empty()) {
    // An image-only deploy keeps the live code.
    if (image.empty()) return FailInvalid("a deploy needs a code tree (root) or an image");
    if (live) root = live->code_digest;
  } else {
    auto d = TRY(image::Digest::Parse(root));
    if (std::find(trees.begin(), trees.end(), d) == trees.end()) trees.push_back(d);
  }
  std::string live_image = live ? (live->image_ref.empty() ? cfg.image : live->image_ref) : cfg.image;
  if (live && live->code_digest == root && (image.empty() || image == live_image)) {
    return json{{"unchanged", true}, {"release", live->id}};
  }
  // One switch at a time per service.
  auto rows = TRY(impl_->L([&](Ledger& l) { return l.ListReleases(app, svc); }));
  for (auto& r : rows) {
    if (r.state == ReleaseState::kSwitching) {
      return Fail(Error(EBUSY, "a deploy of " + svc + " is in progress (release " + std::to_string(r.id) + " by " +
                                   r.who + "); wait for it"));
    }
  }
  // The image the release runs, as an ID (the ledger's image digest); an image
  // the node lacks is refused now rather than at the switch.
  std::string image_id;
  if (auto b = impl_->backends()) {
    const std::string ref = image.empty() ? live_image : image;
    auto id = (*b)->ImageId(ref);
    if (!id) return Fail(std::move(id.error()).Wrap("image " + ref));
    if (id->empty() && !image.empty())
      return Fail(Error(ENOENT, "image " + ref + " is not on this node: pull or load it there first (moor pull " + ref + ")"));
    image_id = *id;
  }
  auto existing = TRY(impl_->L([&](Ledger& l) { return l.FindUploading(app, svc, root, image); }));
  ReleaseRow row;
  bool resumed = false;
  if (existing) {
    row = *existing;
    resumed = true;
    std::lock_guard<std::mutex> g(impl_->written_mu);
    if (!impl_->written.count(row.session)) impl_->unsure.insert(row.session);
  } else {
    ReleaseRow n;
    n.app = app;
    n.service = svc;
    n.code_digest = root;
    n.image_ref = image;
    n.image_id = image_id;
    n.config_digest = cfg.config_digest;
    n.who = who;
    n.session = RandomHex(16);
    if (n.session.empty()) return FailInvalid("no random bytes for a session id");
    n.kind = image.empty() ? "deploy" : "image";
    n.created_ns = UnixNowNs();
    row = TRY(impl_->L([&](Ledger& l) { return l.NewRelease(n); }));
  }
  json missing = json::array();
  for (auto& d : impl_->store->MissingTrees(trees)) missing.push_back(d.str());
  return json{{"session", row.session}, {"release", row.id}, {"missing_trees", missing}, {"resumed", resumed}};
}

Result<json> DeployService::Have(const std::string& session, const json& body) {
  TRY(impl_->SessionRow(session));
  if (!body.is_object()) return FailInvalid("the have request must be {\"digests\": [...]}");
  auto digests = TRY(DigestList(body, "digests"));
  auto have = impl_->store->Have(digests);
  json missing = json::array(), partial = json::object();
  for (auto& d : have.missing) missing.push_back(d.str());
  for (auto& [d, off] : have.partial) partial[d.str()] = off;
  return json{{"missing", missing}, {"partial", partial}};
}

Result<PackResult> DeployService::PutBlobs(const std::string& session, std::string_view pack) {
  auto row = TRY(impl_->SessionRow(session));
  TRY(Uploading(row));
  auto r = impl_->store->PutBlobPack(pack);
  if (!r) {
    // Entries before the bad one were stored without being listed.
    std::lock_guard<std::mutex> g(impl_->written_mu);
    impl_->unsure.insert(session);
    return Fail(std::move(r.error()));
  }
  impl_->NoteWritten(session, r->stored);
  TRY(impl_->L([&](Ledger& l) { return l.AddSent(row.app, row.service, row.id, r->files, r->bytes); }));
  return r;
}

Result<int64_t> DeployService::PutBlobPart(const std::string& session, const std::string& digest, int64_t offset,
                                           int64_t size, std::string_view data, int64_t* current_offset) {
  auto row = TRY(impl_->SessionRow(session));
  TRY(Uploading(row));
  auto d = TRY(image::Digest::Parse(digest));
  int64_t off = TRY(impl_->store->PutBlobPart(d, offset, size, data, current_offset));
  TRY(impl_->L([&](Ledger& l) {
    return l.AddSent(row.app, row.service, row.id, off == size ? 1 : 0, static_cast<int64_t>(data.size()));
  }));
  if (off == size) impl_->NoteWritten(session, {d});
  return off;
}

Result<PackResult> DeployService::PutTrees(const std::string& session, std::string_view pack,
                                           std::vector<image::Digest>* missing) {
  auto row = TRY(impl_->SessionRow(session));
  TRY(Uploading(row));
  auto r = impl_->store->PutTreePack(pack, missing);
  if (!r) {
    std::lock_guard<std::mutex> g(impl_->written_mu);
    impl_->unsure.insert(session);
    return Fail(std::move(r.error()));
  }
  impl_->NoteWritten(session, r->stored);
  return r;
}

Result<json> DeployService::Releases(const std::string& app, const std::string& svc) {
  auto rows = TRY(impl_->L([&](Ledger& l) { return l.ListReleases(app, svc); }));
  std::map<std::string, std::optional<int64_t>> live;
  auto recs = TRY(impl_->L([&](Ledger& l) { return l.ListServices(app); }));
  for (auto& r : recs) live[r.app + "/" + r.service] = r.live_release;
  json out = json::array();
  for (auto& r : rows) {
    auto lv = live[r.app + "/" + r.service];
    json inst = json::parse(r.instances_json, nullptr, false);
    if (!inst.is_array()) inst = json::array();
    out.push_back({{"app", r.app},
                   {"service", r.service},
                   {"release", r.id},
                   {"state", StateName(r.state)},
                   {"live", lv && *lv == r.id},
                   {"on_disk", !r.code_digest.empty() && impl_->store->IsMaterialised(r.app, r.service, r.id)},
                   {"code_digest", r.code_digest},
                   {"image_ref", r.image_ref},
                   {"image_id", r.image_id},
                   {"config_digest", r.config_digest},
                   {"kind", r.kind},
                   {"who", r.who},
                   {"created", Rfc3339(r.created_ns)},
                   {"live_at", Rfc3339(r.live_ns)},
                   {"retired_at", Rfc3339(r.retired_ns)},
                   {"instances", inst},
                   {"files_sent", r.files_sent},
                   {"bytes_sent", r.bytes_sent},
                   {"error", r.error}});
  }
  return out;
}

Result<json> DeployService::Prune(const std::string& app, const std::string& svc, std::optional<int> keep) {
  return impl_->Prune(app, svc, keep.value_or(impl_->opts.keep));
}

Result<json> DeployService::CreateToken(const std::string& name, const std::string& app) {
  if (!ValidName(name, 64))
    return FailInvalid("token name \"" + name + "\": use 1 to 64 letters, digits, '-', '_', '.' or '@'");
  std::string token = RandomHex(32);
  if (token.empty()) return FailInvalid("no random bytes for a token");
  token = "moor_" + token;
  TokenRow t;
  t.name = name;
  t.sha256_hex = image::Sha256Of(token).hex();
  t.app = app;
  t.created_ns = UnixNowNs();
  auto r = impl_->L([&](Ledger& l) { return l.PutToken(t); });
  if (!r && r.error().errnum() == EEXIST)
    return Fail(Error(EEXIST, "a token named " + name + " exists: remove it first (moor deploy token rm " + name + ")"));
  if (!r) return Fail(std::move(r.error()));
  return json{{"name", name}, {"app", app}, {"token", token}};
}

Result<json> DeployService::ListTokens() {
  auto rows = TRY(impl_->L([&](Ledger& l) { return l.ListTokens(); }));
  json out = json::array();
  for (auto& t : rows) out.push_back({{"name", t.name}, {"app", t.app}, {"created", Rfc3339(t.created_ns)}});
  return out;
}

Result<void> DeployService::RemoveToken(const std::string& name) {
  bool removed = TRY(impl_->L([&](Ledger& l) { return l.RemoveToken(name); }));
  if (!removed) return Fail(Error(ENOENT, "no token named " + name + " (list them: moor deploy token ls)"));
  return {};
}

Result<std::string> DeployService::Authenticate(const std::string& authorization, const std::string& app) {
  const std::string kRefused =
      "deploy refused: bad or missing token (create one on the node: moor deploy token create NAME)";
  if (authorization.rfind("Bearer ", 0) != 0) return Fail(Error(EACCES, kRefused));
  std::string token = authorization.substr(7);
  std::string hash = image::Sha256Of(token).hex();
  auto row = TRY(impl_->L([&](Ledger& l) { return l.FindTokenByHash(hash); }));
  // The lookup is by hash; compare again in constant time.
  if (!row || row->sha256_hex.size() != hash.size() ||
      CRYPTO_memcmp(row->sha256_hex.data(), hash.data(), hash.size()) != 0) {
    return Fail(Error(EACCES, kRefused));
  }
  if (!row->app.empty() && row->app != app) {
    // A token for one app sees nothing of the others, lists included.
    return Fail(Error(EACCES, "deploy refused: token " + row->name + " is for app " + row->app +
                                  (app.empty() ? ": name that app in the request" : ", not " + app)));
  }
  return row->name;
}

}  // namespace moor::deploy
