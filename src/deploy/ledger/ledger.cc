#include "deploy/ledger/ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "common/file.h"
#include "store/sqlite.h"

namespace moor::deploy {
namespace {

using store::Database;
using store::Statement;
using store::Transaction;

// Schema migrations: step i brings the ledger from version i to i+1. Append
// new steps; never edit one that has shipped.
const std::vector<std::string>& Schema() {
  static const std::vector<std::string> steps = {
      // 1: initial schema. release_ids holds the highest id ever handed out
      // per service; it outlives the service's rows, so an id is never reused.
      "CREATE TABLE services (app TEXT NOT NULL, svc TEXT NOT NULL, strategy TEXT NOT NULL,"
      " batch INTEGER NOT NULL, reload_signal TEXT NOT NULL, record_json TEXT NOT NULL,"
      " live_release INTEGER, updated_ns INTEGER NOT NULL, PRIMARY KEY (app, svc));"
      "CREATE TABLE release_ids (app TEXT NOT NULL, svc TEXT NOT NULL, last_id INTEGER NOT NULL,"
      " PRIMARY KEY (app, svc));"
      "CREATE TABLE releases (app TEXT NOT NULL, svc TEXT NOT NULL, id INTEGER NOT NULL,"
      " code_digest TEXT NOT NULL, image_ref TEXT NOT NULL, image_id TEXT NOT NULL,"
      " config_digest TEXT NOT NULL, state TEXT NOT NULL, who TEXT NOT NULL, session TEXT NOT NULL,"
      " kind TEXT NOT NULL, created_ns INTEGER NOT NULL, live_ns INTEGER NOT NULL,"
      " retired_ns INTEGER NOT NULL, instances_json TEXT NOT NULL, files_sent INTEGER NOT NULL,"
      " bytes_sent INTEGER NOT NULL, error TEXT NOT NULL, PRIMARY KEY (app, svc, id));"
      "CREATE INDEX releases_session ON releases (session) WHERE session != '';"
      "CREATE INDEX releases_state ON releases (state);"
      "CREATE TABLE switches (seq INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, svc TEXT NOT NULL,"
      " from_id INTEGER NOT NULL, to_id INTEGER NOT NULL, kind TEXT NOT NULL, who TEXT NOT NULL,"
      " at_ns INTEGER NOT NULL);"
      "CREATE INDEX switches_svc ON switches (app, svc);"
      "CREATE TABLE tokens (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, app TEXT NOT NULL,"
      " created_ns INTEGER NOT NULL);",
  };
  return steps;
}

constexpr const char* kReleaseColumns =
    "app, svc, id, code_digest, image_ref, image_id, config_digest, state, who, session, kind, created_ns, "
    "live_ns, retired_ns, instances_json, files_sent, bytes_sent, error";

std::string Name(const std::string& app, const std::string& svc) {
  return app + "/" + svc;
}

std::string ReleaseName(const std::string& app, const std::string& svc, int64_t id) {
  return "release " + std::to_string(id) + " of " + Name(app, svc);
}

Error NoRelease(const std::string& app, const std::string& svc, int64_t id) {
  return Error(ENOENT, "no " + ReleaseName(app, svc, id) + " in the deploy ledger: list them with moor releases");
}

// Reads a row selected with kReleaseColumns in that order.
Result<ReleaseRow> ReadRelease(const Statement& st) {
  ReleaseRow r;
  r.app = st.ColumnText(0);
  r.service = st.ColumnText(1);
  r.id = st.ColumnInt(2);
  r.code_digest = st.ColumnText(3);
  r.image_ref = st.ColumnText(4);
  r.image_id = st.ColumnText(5);
  r.config_digest = st.ColumnText(6);
  r.state = TRY_CTX(ParseState(st.ColumnText(7)), "deploy ledger: " + ReleaseName(r.app, r.service, r.id));
  r.who = st.ColumnText(8);
  r.session = st.ColumnText(9);
  r.kind = st.ColumnText(10);
  r.created_ns = st.ColumnInt(11);
  r.live_ns = st.ColumnInt(12);
  r.retired_ns = st.ColumnInt(13);
  r.instances_json = st.ColumnText(14);
  r.files_sent = st.ColumnInt(15);
  r.bytes_sent = st.ColumnInt(16);
  r.error = st.ColumnText(17);
  return r;
}

Result<std::vector<ReleaseRow>> ReadReleases(Statement& st) {
  std::vector<ReleaseRow> out;
  while (TRY(st.Step())) out.push_back(TRY(ReadRelease(st)));
  return out;
}

Result<std::optional<ReleaseRow>> ReadOneRelease(Statement& st) {
  if (!TRY(st.Step())) return std::nullopt;
  return TRY(ReadRelease(st));
}

ServiceRecord ReadService(const Statement& st) {
  ServiceRecord r;
  r.app = st.ColumnText(0);
  r.service = st.ColumnText(1);
  r.strategy = st.ColumnText(2);
  r.batch = static_cast<int>(st.ColumnInt(3));
  r.reload_signal = st.ColumnText(4);
  r.record_json = st.ColumnText(5);
  if (!st.ColumnIsNull(6)) r.live_release = st.ColumnInt(6);
  r.updated_ns = st.ColumnInt(7);
  return r;
}

constexpr const char* kServiceColumns =
    "app, svc, strategy, batch, reload_signal, record_json, live_release, updated_ns";

TokenRow ReadToken(const Statement& st) {
  return TokenRow{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3)};
}

// The file is created owner-only before SQLite opens it: it holds token
// hashes and who deployed what. (-wal and -shm take the main file's mode.)
Result<void> CreatePrivate(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno("create deploy ledger \"" + path + "\"");
  close(fd);
  return {};
}

// Fails with ENOENT unless exactly one row was changed by the last statement.
Result<void> ExpectChanged(Database& db, const std::string& app, const std::string& svc, int64_t id) {
  if (db.Changes() == 0) return Fail(NoRelease(app, svc, id));
  return {};
}

}  // namespace

std::string_view StateName(ReleaseState s) {
  switch (s) {
    case ReleaseState::kUploading:
      return "uploading";
    case ReleaseState::kMaterialised:
      return "materialised";
    case ReleaseState::kSwitching:
      return "switching";
    case ReleaseState::kLive:
      return "live";
    case ReleaseState::kRetired:
      return "retired";
    case ReleaseState::kFailed:
      return "failed";
  }
  return "failed";
}

Result<ReleaseState> ParseState(std::string_view s) {
  for (ReleaseState st : {ReleaseState::kUploading, ReleaseState::kMaterialised, ReleaseState::kSwitching,
                          ReleaseState::kLive, ReleaseState::kRetired, ReleaseState::kFailed}) {
    if (StateName(st) == s) return st;
  }
  return FailInvalid("unknown release state \"" + std::string(s) +
                     "\" (want uploading, materialised, switching, live, retired or failed)");
}

struct Ledger::Impl {
  explicit Impl(Database d) : db(std::move(d)) {}
  std::mutex mu;  // one statement sequence at a time on the handle
  Database db;
};

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    TRY_CTX(MkdirAll(path.substr(0, slash), 0700), "create the deploy ledger's directory");
  }
  TRY(CreatePrivate(path));
  Database db = TRY_CTX(Database::Open(path), "open deploy ledger \"" + path + "\"");
  TRY_CTX(db.Migrate(Schema()), "deploy ledger \"" + path + "\"");
  return std::unique_ptr<Ledger>(new Ledger(std::make_unique<Impl>(std::move(db))));
}

Result<std::unique_ptr<Ledger>> Ledger::OpenMemory() {
  Database db = TRY(Database::OpenMemory());
  TRY(db.Migrate(Schema()));
  return std::unique_ptr<Ledger>(new Ledger(std::make_unique<Impl>(std::move(db))));
}

// ---- services

Result<void> Ledger::PutService(const ServiceRecord& r) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(
      "INSERT INTO services (app, svc, strategy, batch, reload_signal, record_json, live_release, updated_ns)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7) ON CONFLICT (app, svc) DO UPDATE SET"
      " strategy = excluded.strategy, batch = excluded.batch, reload_signal = excluded.reload_signal,"
      " record_json = excluded.record_json, updated_ns = excluded.updated_ns"));
  st.Bind(1, r.app).Bind(2, r.service).Bind(3, r.strategy).Bind(4, int64_t{r.batch}).Bind(5, r.reload_signal);
  st.Bind(6, r.record_json).Bind(7, r.updated_ns);
  TRY_CTX(st.Run(), "record deploy settings of " + Name(r.app, r.service));
  return {};
}

Result<std::optional<ServiceRecord>> Ledger::GetService(const std::string& app, const std::string& svc) {
  std::lock_guard lock(impl_->mu);
  Statement st =
      TRY(impl_->db.Prepare(std::string("SELECT ") + kServiceColumns + " FROM services WHERE app = ?1 AND svc = ?2"));
  st.Bind(1, app).Bind(2, svc);
  if (!TRY(st.Step())) return std::nullopt;
  return ReadService(st);
}

Result<std::vector<ServiceRecord>> Ledger::ListServices(const std::string& app) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(std::string("SELECT ") + kServiceColumns +
                                       " FROM services WHERE ?1 = '' OR app = ?1 ORDER BY app, svc"));
  st.Bind(1, app);
  std::vector<ServiceRecord> out;
  while (TRY(st.Step())) out.push_back(ReadService(st));
  return out;
}

Result<void> Ledger::RemoveService(const std::string& app, const std::string& svc) {
  std::lock_guard lock(impl_->mu);
  Database& db = impl_->db;
  Transaction tx = TRY(Transaction::Begin(db));
  // release_ids stays: a later service of the same name continues the count.
  for (const char* table : {"releases", "switches", "services"}) {
    Statement st = TRY(db.Prepare(std::string("DELETE FROM ") + table + " WHERE app = ?1 AND svc = ?2"));
    st.Bind(1, app).Bind(2, svc);
    TRY_CTX(st.Run(), "remove " + Name(app, svc) + " from the deploy ledger");
  }
  return tx.Commit();
}

// ---- releases

Result<ReleaseRow> Ledger::NewRelease(const ReleaseRow& r) {
  std::lock_guard lock(impl_->mu);
  Database& db = impl_->db;
  Transaction tx = TRY(Transaction::Begin(db));
  // The next id is above both the counter and any row (a ledger whose counter
  // was lost still never reuses an id that a row holds).
  Statement q =
      TRY(db.Prepare("SELECT MAX(COALESCE((SELECT last_id FROM release_ids WHERE app = ?1 AND svc = ?2), 0),"
                     " COALESCE((SELECT MAX(id) FROM releases WHERE app = ?1 AND svc = ?2), 0))"));
  q.Bind(1, r.app).Bind(2, r.service);
  TRY(q.Step());
  ReleaseRow row = r;
  row.id = q.ColumnInt(0) + 1;
  row.state = ReleaseState::kUploading;
  Statement c =
      TRY(db.Prepare("INSERT INTO release_ids (app, svc, last_id) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (app, svc) DO UPDATE SET last_id = excluded.last_id"));
  c.Bind(1, row.app).Bind(2, row.service).Bind(3, row.id);
  TRY(c.Run());
  Statement st = TRY(db.Prepare(std::string("INSERT INTO releases (") + kReleaseColumns +
                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                                " ?17, ?18)"));
  st.Bind(1, row.app).Bind(2, row.service).Bind(3, row.id).Bind(4, row.code_digest).Bind(5, row.image_ref);
  st.Bind(6, row.image_id).Bind(7, row.config_digest).Bind(8, StateName(row.state)).Bind(9, row.who);
  st.Bind(10, row.session).Bind(11, row.kind).Bind(12, row.created_ns).Bind(13, row.live_ns);
  st.Bind(14, row.retired_ns).Bind(15, row.instances_json).Bind(16, row.files_sent).Bind(17, row.bytes_sent);
  st.Bind(18, row.error);
  TRY_CTX(st.Run(), "record " + ReleaseName(row.app, row.service, row.id));
  TRY(tx.Commit());
  return row;
}

Result<std::optional<ReleaseRow>> Ledger::GetRelease(const std::string& app, const std::string& svc, int64_t id) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(std::string("SELECT ") + kReleaseColumns +
                                       " FROM releases WHERE app = ?1 AND svc = ?2 AND id = ?3"));
  st.Bind(1, app).Bind(2, svc).Bind(3, id);
  return ReadOneRelease(st);
}

Result<std::optional<ReleaseRow>> Ledger::FindSession(const std::string& session) {
  if (session.empty()) return std::nullopt;
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(std::string("SELECT ") + kReleaseColumns +
                                       " FROM releases WHERE session = ?1 ORDER BY created_ns DESC LIMIT 1"));
  st.Bind(1, session);
  return ReadOneRelease(st);
}

Result<std::optional<ReleaseRow>> Ledger::FindUploading(const std::string& app, const std::string& svc,
                                                        const std::string& code_digest, const std::string& image_ref) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(
      std::string("SELECT ") + kReleaseColumns +
      " FROM releases WHERE app = ?1 AND svc = ?2 AND state = 'uploading' AND code_digest = ?3 AND image_ref = ?4"
      " ORDER BY id DESC LIMIT 1"));
  st.Bind(1, app).Bind(2, svc).Bind(3, code_digest).Bind(4, image_ref);
  return ReadOneRelease(st);
}

Result<std::vector<ReleaseRow>> Ledger::ListReleases(const std::string& app, const std::string& svc) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(std::string("SELECT ") + kReleaseColumns +
                                       " FROM releases WHERE (?1 = '' OR app = ?1) AND (?2 = '' OR svc = ?2)"
                                       " ORDER BY created_ns DESC, app, svc, id DESC"));
  st.Bind(1, app).Bind(2, svc);
  return ReadReleases(st);
}

Result<std::vector<ReleaseRow>> Ledger::ListUnfinished() {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(std::string("SELECT ") + kReleaseColumns +
                                       " FROM releases WHERE state IN ('uploading', 'materialised', 'switching')"
                                       " ORDER BY app, svc, id"));
  return ReadReleases(st);
}

Result<void> Ledger::SetState(const std::string& app, const std::string& svc, int64_t id, ReleaseState s,
                              const std::string& error) {
  std::lock_guard lock(impl_->mu);
  Statement st =
      TRY(impl_->db.Prepare("UPDATE releases SET state = ?4, error = ?5 WHERE app = ?1 AND svc = ?2 AND id = ?3"));
  st.Bind(1, app).Bind(2, svc).Bind(3, id).Bind(4, StateName(s)).Bind(5, error);
  TRY_CTX(st.Run(), "set the state of " + ReleaseName(app, svc, id));
  return ExpectChanged(impl_->db, app, svc, id);
}

Result<void> Ledger::AddSent(const std::string& app, const std::string& svc, int64_t id, int64_t files, int64_t bytes) {
  std::lock_guard lock(impl_->mu);
  Statement st =
      TRY(impl_->db.Prepare("UPDATE releases SET files_sent = files_sent + ?4, bytes_sent = bytes_sent + ?5"
                            " WHERE app = ?1 AND svc = ?2 AND id = ?3"));
  st.Bind(1, app).Bind(2, svc).Bind(3, id).Bind(4, files).Bind(5, bytes);
  TRY_CTX(st.Run(), "count the upload of " + ReleaseName(app, svc, id));
  return ExpectChanged(impl_->db, app, svc, id);
}

Result<void> Ledger::SetInstances(const std::string& app, const std::string& svc, int64_t id,
                                  const std::string& instances_json) {
  std::lock_guard lock(impl_->mu);
  Statement st =
      TRY(impl_->db.Prepare("UPDATE releases SET instances_json = ?4 WHERE app = ?1 AND svc = ?2 AND id = ?3"));
  st.Bind(1, app).Bind(2, svc).Bind(3, id).Bind(4, instances_json);
  TRY_CTX(st.Run(), "record the instances of " + ReleaseName(app, svc, id));
  return ExpectChanged(impl_->db, app, svc, id);
}

Result<void> Ledger::CommitLive(const std::string& app, const std::string& svc, int64_t to, const std::string& kind,
                                const std::string& who, int64_t now_ns) {
  std::lock_guard lock(impl_->mu);
  Database& db = impl_->db;
  const std::string what = "switch " + Name(app, svc) + " to release " + std::to_string(to);
  Transaction tx = TRY_CTX(Transaction::Begin(db), what);

  Statement svc_q = TRY(db.Prepare("SELECT live_release FROM services WHERE app = ?1 AND svc = ?2"));
  svc_q.Bind(1, app).Bind(2, svc);
  if (!TRY(svc_q.Step())) {
    return Fail(Error(ENOENT, what + ": the service has no deploy record: run moor up first"));
  }
  const int64_t from = svc_q.ColumnIsNull(0) ? 0 : svc_q.ColumnInt(0);

  Statement rel_q = TRY(db.Prepare("SELECT state FROM releases WHERE app = ?1 AND svc = ?2 AND id = ?3"));
  rel_q.Bind(1, app).Bind(2, svc).Bind(3, to);
  if (!TRY(rel_q.Step())) return Fail(NoRelease(app, svc, to).Wrap(what));
  if (from == to && rel_q.ColumnText(0) == StateName(ReleaseState::kLive)) return {};  // already live

  // Every other live row of the service is retired (normally just `from`).
  Statement retire =
      TRY(db.Prepare("UPDATE releases SET state = 'retired', retired_ns = ?4"
                     " WHERE app = ?1 AND svc = ?2 AND id != ?3 AND state = 'live'"));
  retire.Bind(1, app).Bind(2, svc).Bind(3, to).Bind(4, now_ns);
  TRY_CTX(retire.Run(), what);

  Statement live =
      TRY(db.Prepare("UPDATE releases SET state = 'live', live_ns = ?4, retired_ns = 0, error = ''"
                     " WHERE app = ?1 AND svc = ?2 AND id = ?3"));
  live.Bind(1, app).Bind(2, svc).Bind(3, to).Bind(4, now_ns);
  TRY_CTX(live.Run(), what);

  Statement set = TRY(db.Prepare("UPDATE services SET live_release = ?3 WHERE app = ?1 AND svc = ?2"));
  set.Bind(1, app).Bind(2, svc).Bind(3, to);
  TRY_CTX(set.Run(), what);

  Statement sw = TRY(db.Prepare(
      "INSERT INTO switches (app, svc, from_id, to_id, kind, who, at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  sw.Bind(1, app).Bind(2, svc).Bind(3, from).Bind(4, to).Bind(5, kind).Bind(6, who).Bind(7, now_ns);
  TRY_CTX(sw.Run(), what);
  TRY_CTX(tx.Commit(), what);
  return {};
}

Result<std::vector<SwitchRow>> Ledger::ListSwitches(const std::string& app, const std::string& svc) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare(
      "SELECT seq, app, svc, from_id, to_id, kind, who, at_ns FROM switches WHERE app = ?1 AND svc = ?2"
      " ORDER BY seq"));
  st.Bind(1, app).Bind(2, svc);
  std::vector<SwitchRow> out;
  while (TRY(st.Step())) {
    out.push_back(SwitchRow{st.ColumnInt(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3), st.ColumnInt(4),
                            st.ColumnText(5), st.ColumnText(6), st.ColumnInt(7)});
  }
  return out;
}

// ---- tokens

Result<void> Ledger::PutToken(const TokenRow& t) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare("INSERT INTO tokens (name, sha256, app, created_ns) VALUES (?1, ?2, ?3, ?4)"));
  st.Bind(1, t.name).Bind(2, t.sha256_hex).Bind(3, t.app).Bind(4, t.created_ns);
  if (auto r = st.Run(); !r) {
    if (r.error().errnum() == EEXIST) {
      return Fail(Error(EEXIST, "deploy token \"" + t.name + "\" already exists: pick another name"));
    }
    return Fail(std::move(r.error()).Wrap("store deploy token \"" + t.name + "\""));
  }
  return {};
}

Result<std::optional<TokenRow>> Ledger::FindTokenByHash(const std::string& sha256_hex) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare("SELECT name, sha256, app, created_ns FROM tokens WHERE sha256 = ?1"));
  st.Bind(1, sha256_hex);
  if (!TRY(st.Step())) return std::nullopt;
  return ReadToken(st);
}

Result<std::vector<TokenRow>> Ledger::ListTokens() {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare("SELECT name, sha256, app, created_ns FROM tokens ORDER BY name"));
  std::vector<TokenRow> out;
  while (TRY(st.Step())) out.push_back(ReadToken(st));
  return out;
}

Result<bool> Ledger::RemoveToken(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Statement st = TRY(impl_->db.Prepare("DELETE FROM tokens WHERE name = ?1"));
  st.Bind(1, name);
  TRY_CTX(st.Run(), "remove deploy token \"" + name + "\"");
  return impl_->db.Changes() > 0;
}

}  // namespace moor::deploy
