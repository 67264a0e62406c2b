// A thin RAII layer over SQLite: a database handle, prepared statements with
// typed binds and columns, transactions, and schema migrations keyed by
// PRAGMA user_version. Errors carry SQLite's message and the statement.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace moor::store {

class Statement {
 public:
  Statement() = default;
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  // Binds are 1-based like SQLite's.
  Statement& Bind(int i, std::string_view text);
  Statement& Bind(int i, int64_t v);
  Statement& BindNull(int i);
  // SQLITE_ROW → true, SQLITE_DONE → false; constraint violations give an
  // error whose errnum is EEXIST (unique/primary key) so callers can say
  // "name already in use".
  Result<bool> Step();
  // Step() until done (for INSERT/UPDATE/DELETE).
  Result<void> Run();
  std::string ColumnText(int i) const;  // 0-based
  int64_t ColumnInt(int i) const;
  bool ColumnIsNull(int i) const;
  // Resets for another execution with new binds (binds are cleared).
  void Reset();

 private:
  friend class Database;
  Statement(sqlite3_stmt* s, std::string sql) : stmt_(s), sql_(std::move(sql)) {}
  Statement& NoteBind(int rc, int i);
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  // Binds return *this for chaining, so a failed bind is remembered here and
  // reported by the next Step().
  std::string bind_error_;
};

class Database {
 public:
  // Opens (creating) the file with WAL journal, foreign keys on, synchronous=NORMAL,
  // a busy timeout of 5 s. Parent directory must exist.
  static Result<Database> Open(const std::string& path);
  // In-memory database (tests).
  static Result<Database> OpenMemory();
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  Result<void> Exec(std::string_view sql);  // one or more statements, no results
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertRowid() const;
  int Changes() const;  // rows changed by the last statement

  // Migrations: steps[i] brings user_version from i to i+1. Applies the
  // missing ones, each in its own transaction. A database newer than the
  // steps known → error "state database schema version N is newer than this
  // moor (knows M): upgrade moor".
  Result<void> Migrate(const std::vector<std::string>& steps);
  Result<int> UserVersion();

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE … COMMIT; rolled back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> Begin(Database& db);
  Transaction(Transaction&&) noexcept;
  ~Transaction();
  Result<void> Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_ = nullptr;
};

}  // namespace moor::store
