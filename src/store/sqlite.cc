#include "store/sqlite.h"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include "store/str_cat.h"

namespace moor::store {
namespace {

// Maps a SQLite (extended) result code to the errno callers test for, so the
// engine can tell "name taken" (EEXIST) and "locked too long" (EBUSY) apart
// from real failures without looking at SQLite codes.
int ErrnoFor(sqlite3* db, int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return EEXIST;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return EBUSY;
    case SQLITE_NOMEM:
      return ENOMEM;
    case SQLITE_FULL:
      return ENOSPC;
    case SQLITE_READONLY:
      return EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return EACCES;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: {
      // The OS error behind it, when SQLite kept one.
      int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
      return sys != 0 ? sys : EIO;
    }
    default:
      return EIO;
  }
}

Error SqliteError(sqlite3* db, int rc, std::string_view sql) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (!sql.empty()) msg += Cat(" (in \"", sql, "\")");
  return Error(ErrnoFor(db, rc), std::move(msg));
}

}  // namespace

// ---- Statement ----

Statement::Statement(Statement&& o) noexcept
    : stmt_(std::exchange(o.stmt_, nullptr)),
      sql_(std::move(o.sql_)),
      bind_error_(std::move(o.bind_error_)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(o.stmt_, nullptr);
    sql_ = std::move(o.sql_);
    bind_error_ = std::move(o.bind_error_);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::NoteBind(int rc, int i) {
  if (rc != SQLITE_OK && bind_error_.empty()) {
    bind_error_ = Cat("bind parameter ", i, ": ", sqlite3_errstr(rc), " (in \"", sql_, "\")");
  }
  return *this;
}

Statement& Statement::Bind(int i, std::string_view text) {
  if (stmt_ == nullptr) return NoteBind(SQLITE_MISUSE, i);
  // SQLITE_TRANSIENT: SQLite copies the text, so callers may pass temporaries.
  return NoteBind(sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), i);
}

Statement& Statement::Bind(int i, int64_t v) {
  if (stmt_ == nullptr) return NoteBind(SQLITE_MISUSE, i);
  return NoteBind(sqlite3_bind_int64(stmt_, i, v), i);
}

Statement& Statement::BindNull(int i) {
  if (stmt_ == nullptr) return NoteBind(SQLITE_MISUSE, i);
  return NoteBind(sqlite3_bind_null(stmt_, i), i);
}

Result<bool> Statement::Step() {
  if (stmt_ == nullptr) return FailInvalid("step on an empty statement");
  if (!bind_error_.empty()) return Fail(Error(EINVAL, bind_error_));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error err = SqliteError(sqlite3_db_handle(stmt_), rc, sql_);
  // Reset so a failed statement does not keep its transaction busy.
  sqlite3_reset(stmt_);
  return Fail(std::move(err));
}

Result<void> Statement::Run() {
  while (TRY(Step())) {
  }
  return {};
}

std::string Statement::ColumnText(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
}

int64_t Statement::ColumnInt(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

bool Statement::ColumnIsNull(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

void Statement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_.clear();
}

// ---- Database ----

namespace {

// How long a writer waits for another connection's write lock.
constexpr std::chrono::milliseconds kBusyTimeout{5000};

Result<sqlite3*> OpenHandle(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error err = SqliteError(db, rc, "");
    sqlite3_close_v2(db);  // SQLite allocates a handle even on failure
    return Fail(std::move(err).Wrap(Cat("open state database \"", path, "\"")));
  }
  return db;
}

}  // namespace

Result<Database> Database::Open(const std::string& path) {
  // FULLMUTEX: a handle may be shared by threads (StateStore serialises its
  // own use, but other users of Database need not).
  sqlite3* handle = TRY(OpenHandle(
      path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE));
  Database db(handle);
  sqlite3_busy_timeout(handle, static_cast<int>(kBusyTimeout.count()));
  // Switching a fresh file to WAL needs an exclusive lock, and SQLite answers
  // "database is locked" at once, without the busy handler, while another
  // process is opening the same file: retry for as long as the busy timeout.
  const auto deadline = std::chrono::steady_clock::now() + kBusyTimeout;
  for (;;) {
    auto r = db.Exec("PRAGMA journal_mode=WAL");
    if (r) break;
    if (r.error().errnum() != EBUSY || std::chrono::steady_clock::now() >= deadline) {
      return Fail(std::move(r.error()).Wrap(Cat("open state database \"", path, "\"")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // WAL + synchronous=NORMAL: a commit is atomic and survives a crash of the
  // daemon; only a power loss can drop the last commits (never corrupt the
  // file). FULL would add an fsync to every state change of every container
  // (6 per `moor run --rm`), which the engine's start path cannot afford.
  TRY_CTX(db.Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL"),
          Cat("open state database \"", path, "\""));
  return db;
}

Result<Database> Database::OpenMemory() {
  sqlite3* handle = TRY(OpenHandle(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                   SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE));
  Database db(handle);
  TRY(db.Exec("PRAGMA foreign_keys=ON"));
  return db;
}

Database::Database(Database&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Database::~Database() {
  // close_v2 defers the close until outstanding statements are finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<void> Database::Exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs NUL termination
  char* errmsg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &errmsg);
  if (rc == SQLITE_OK) return {};
  std::string msg = errmsg != nullptr ? errmsg : sqlite3_errstr(rc);
  sqlite3_free(errmsg);
  return Fail(Error(ErrnoFor(db_, rc), Cat(msg, " (in \"", text, "\")")));
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Fail(SqliteError(db_, rc, sql));
  }
  return Statement(stmt, std::string(sql));
}

int64_t Database::LastInsertRowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int Database::Changes() const {
  return sqlite3_changes(db_);
}

Result<int> Database::UserVersion() {
  Statement st = TRY(Prepare("PRAGMA user_version"));
  if (!TRY(st.Step())) return FailInvalid("PRAGMA user_version returned no row");
  return static_cast<int>(st.ColumnInt(0));
}

Result<void> Database::Migrate(const std::vector<std::string>& steps) {
  const int known = static_cast<int>(steps.size());
  // One IMMEDIATE transaction per step, re-reading the version inside it:
  // another process opening the same file may be migrating concurrently, and
  // the write lock makes exactly one of them apply each step.
  for (;;) {
    Transaction tx = TRY_CTX(Transaction::Begin(*this), "migrate state database");
    int version = TRY_CTX(UserVersion(), "migrate state database");
    if (version > known) {
      return Fail(Error(ENOTSUP, Cat("state database schema version ", version,
                                     " is newer than this moor (knows ", known, "): upgrade moor")));
    }
    if (version == known) return {};  // the transaction rolls back: nothing was written
    TRY_CTX(Exec(steps[static_cast<size_t>(version)]),
            Cat("migrate state database to version ", version + 1));
    // PRAGMA cannot take a bound parameter; the value is our own integer.
    TRY(Exec(Cat("PRAGMA user_version = ", version + 1)));
    TRY_CTX(tx.Commit(), Cat("migrate state database to version ", version + 1));
  }
}

// ---- Transaction ----

Result<Transaction> Transaction::Begin(Database& db) {
  // IMMEDIATE takes the write lock now (waiting up to the busy timeout), so a
  // read-then-write sequence cannot fail half-way with SQLITE_BUSY.
  TRY(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->Exec("ROLLBACK");
}

Result<void> Transaction::Commit() {
  if (db_ == nullptr) return FailInvalid("commit: transaction already finished");
  TRY(db_->Exec("COMMIT"));
  db_ = nullptr;
  return {};
}

}  // namespace moor::store
