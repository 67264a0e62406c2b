#include "store/state_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_set>

#include "common/file.h"
#include "store/str_cat.h"

namespace moor::store {
namespace {

// Schema migrations: kSchema[i] brings the database from version i to i+1.
// Append new steps; never edit a released one (databases in the field have
// already applied it).
const std::vector<std::string>& Schema() {
  static const std::vector<std::string> steps = {
      // 1: initial schema. Objects are JSON documents owned by the engine;
      // id and name are columns because they must be unique and looked up.
      "CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, json TEXT NOT NULL);"
      "CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, json TEXT NOT NULL);"
      "CREATE TABLE volumes (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, json TEXT NOT NULL);"
      "CREATE TABLE ip_leases (network TEXT NOT NULL, address TEXT NOT NULL, owner TEXT NOT NULL,"
      " PRIMARY KEY (network, address));"
      "CREATE INDEX ip_leases_owner ON ip_leases (owner);"
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
  };
  return steps;
}

const char* TableOf(Kind k) {
  switch (k) {
    case Kind::kContainer:
      return "containers";
    case Kind::kNetwork:
      return "networks";
    case Kind::kVolume:
      return "volumes";
  }
  return "containers";
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kContainer:
      return "container";
    case Kind::kNetwork:
      return "network";
    case Kind::kVolume:
      return "volume";
  }
  return "object";
}

// Dotted-quad text of a host-byte-order IPv4 address.
std::string FormatIPv4(uint32_t a) {
  return Cat(a >> 24, ".", (a >> 16) & 0xff, ".", (a >> 8) & 0xff, ".", a & 0xff);
}

std::optional<uint32_t> ParseIPv4(const std::string& s) {
  in_addr addr{};
  if (inet_pton(AF_INET, s.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

Result<std::optional<Object>> QueryOne(Database& db, Kind k, const char* column, const std::string& value) {
  Statement st = TRY(db.Prepare(Cat("SELECT id, name, json FROM ", TableOf(k), " WHERE ", column, " = ?1")));
  st.Bind(1, value);
  if (!TRY(st.Step())) return std::nullopt;
  return Object{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2)};
}

// The one-line message for a uniqueness violation by `o`: who holds the name,
// or that the id exists. Looked up after the failed write, inside the same
// transaction, so the answer is consistent with the failure.
Error Conflict(Database& db, Kind k, const Object& o) {
  auto holder = QueryOne(db, k, "name", o.name);
  if (holder && *holder && (*holder)->id != o.id) {
    return Error(EEXIST, Cat(KindName(k), " name \"", o.name, "\" is already in use by ", KindName(k), " ",
                             (*holder)->id));
  }
  return Error(EEXIST, Cat(KindName(k), " ", o.id, " already exists"));
}

Result<std::optional<std::string>> GetMetaLocked(Database& db, const std::string& key) {
  Statement st = TRY(db.Prepare("SELECT value FROM meta WHERE key = ?1"));
  st.Bind(1, key);
  if (!TRY(st.Step())) return std::nullopt;
  return st.ColumnText(0);
}

Result<void> SetMetaLocked(Database& db, const std::string& key, const std::string& value) {
  Statement st =
      TRY(db.Prepare("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = "
                     "excluded.value"));
  st.Bind(1, key).Bind(2, value);
  return st.Run();
}

Result<void> InsertLease(Database& db, const std::string& network, const std::string& address,
                         const std::string& owner) {
  Statement st = TRY(db.Prepare("INSERT INTO ip_leases (network, address, owner) VALUES (?1, ?2, ?3)"));
  st.Bind(1, network).Bind(2, address).Bind(3, owner);
  return st.Run();
}

// Creates the file owner-only before SQLite does: the state holds container
// environments, which may carry secrets. (SQLite gives -wal/-shm the mode of
// the main file.)
Result<void> CreatePrivate(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno(Cat("create state database \"", path, "\""));
  close(fd);
  return {};
}

}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& root) {
  TRY_CTX(MkdirAll(root, 0700), Cat("create state directory \"", root, "\""));
  const std::string path = root + "/state.db";
  TRY(CreatePrivate(path));
  Database db = TRY(Database::Open(path));
  TRY_CTX(db.Migrate(Schema()), path);
  return std::unique_ptr<StateStore>(new StateStore(std::move(db)));
}

Result<std::unique_ptr<StateStore>> StateStore::OpenMemory() {
  Database db = TRY(Database::OpenMemory());
  TRY(db.Migrate(Schema()));
  return std::unique_ptr<StateStore>(new StateStore(std::move(db)));
}

// ---- objects ----

Result<void> StateStore::Insert(Kind k, const Object& o) {
  std::lock_guard lock(mu_);
  Transaction tx = TRY(Transaction::Begin(db_));
  Statement st = TRY(db_.Prepare(Cat("INSERT INTO ", TableOf(k), " (id, name, json) VALUES (?1, ?2, ?3)")));
  st.Bind(1, o.id).Bind(2, o.name).Bind(3, o.json);
  if (auto r = st.Run(); !r) {
    if (r.error().errnum() == EEXIST) return Fail(Conflict(db_, k, o));
    return Fail(std::move(r.error()).Wrap(Cat("store ", KindName(k), " ", o.id)));
  }
  return tx.Commit();
}

Result<void> StateStore::Update(Kind k, const Object& o) {
  std::lock_guard lock(mu_);
  Transaction tx = TRY(Transaction::Begin(db_));
  Statement st = TRY(db_.Prepare(Cat("UPDATE ", TableOf(k), " SET name = ?2, json = ?3 WHERE id = ?1")));
  st.Bind(1, o.id).Bind(2, o.name).Bind(3, o.json);
  if (auto r = st.Run(); !r) {
    if (r.error().errnum() == EEXIST) return Fail(Conflict(db_, k, o));
    return Fail(std::move(r.error()).Wrap(Cat("update ", KindName(k), " ", o.id)));
  }
  if (db_.Changes() == 0) return Fail(Error(ENOENT, Cat("no such ", KindName(k), ": ", o.id)));
  return tx.Commit();
}

Result<void> StateStore::Remove(Kind k, const std::string& id) {
  std::lock_guard lock(mu_);
  Statement st = TRY(db_.Prepare(Cat("DELETE FROM ", TableOf(k), " WHERE id = ?1")));
  st.Bind(1, id);
  return st.Run();
}

Result<std::optional<Object>> StateStore::Get(Kind k, const std::string& id) {
  std::lock_guard lock(mu_);
  return QueryOne(db_, k, "id", id);
}

Result<std::optional<Object>> StateStore::GetByName(Kind k, const std::string& name) {
  std::lock_guard lock(mu_);
  return QueryOne(db_, k, "name", name);
}

Result<std::vector<Object>> StateStore::List(Kind k) {
  std::lock_guard lock(mu_);
  // Insertion order (rowid): stable, and oldest first.
  Statement st = TRY(db_.Prepare(Cat("SELECT id, name, json FROM ", TableOf(k), " ORDER BY rowid")));
  std::vector<Object> out;
  while (TRY(st.Step())) out.push_back(Object{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2)});
  return out;
}

// ---- IP leases ----

Result<std::string> StateStore::Lease(const std::string& network, uint32_t first, uint32_t last,
                                      const std::string& owner) {
  const std::string range = Cat(FormatIPv4(first), "-", FormatIPv4(last));
  if (first > last) return FailInvalid(Cat("network ", network, ": empty address range ", range));
  std::lock_guard lock(mu_);
  // One IMMEDIATE transaction for read-choose-insert: another process
  // leasing in the same file waits for it instead of picking the same address.
  Transaction tx = TRY_CTX(Transaction::Begin(db_), Cat("lease address in network ", network));

  // The taken set, loaded once: one query per candidate would make a nearly
  // full /16 cost tens of thousands of queries.
  std::unordered_set<uint32_t> taken;
  {
    Statement st = TRY(db_.Prepare("SELECT address FROM ip_leases WHERE network = ?1"));
    st.Bind(1, network);
    while (TRY(st.Step())) {
      auto a = ParseIPv4(st.ColumnText(0));
      if (a && *a >= first && *a <= last) taken.insert(*a);
    }
  }
  const uint64_t span = uint64_t{last} - first + 1;
  if (taken.size() < span) {
    // Round-robin: start after the address handed out last time.
    const std::string meta_key = "ipam.last." + network;
    uint32_t start = first;
    if (auto prev = TRY(GetMetaLocked(db_, meta_key))) {
      auto p = ParseIPv4(*prev);
      if (p && *p >= first && *p < last) start = *p + 1;
    }
    // Ends within taken.size() + 1 steps, since some address in range is free.
    for (uint64_t i = 0; i < span; ++i) {
      auto candidate = static_cast<uint32_t>(first + (uint64_t{start} - first + i) % span);
      if (taken.contains(candidate)) continue;
      const std::string address = FormatIPv4(candidate);
      TRY(InsertLease(db_, network, address, owner));
      TRY(SetMetaLocked(db_, meta_key, address));
      TRY_CTX(tx.Commit(), Cat("lease address in network ", network));
      return address;
    }
  }
  return Fail(Error(ENOSPC, Cat("network ", network, " has no free address in ", range)));
}

Result<void> StateStore::LeaseExact(const std::string& network, const std::string& address,
                                    const std::string& owner) {
  auto parsed = ParseIPv4(address);
  if (!parsed) return FailInvalid(Cat("\"", address, "\" is not an IPv4 address"));
  // Stored in canonical form so the taken-set in Lease() and later lookups agree.
  const std::string canonical = FormatIPv4(*parsed);
  std::lock_guard lock(mu_);
  Transaction tx = TRY(Transaction::Begin(db_));
  if (auto r = InsertLease(db_, network, canonical, owner); !r) {
    if (r.error().errnum() != EEXIST) return Fail(std::move(r.error()));
    Statement st = TRY(db_.Prepare("SELECT owner FROM ip_leases WHERE network = ?1 AND address = ?2"));
    st.Bind(1, network).Bind(2, canonical);
    std::string holder = TRY(st.Step()) ? st.ColumnText(0) : std::string("another owner");
    return Fail(
        Error(EEXIST, Cat("address ", canonical, " in network ", network, " is already in use by ", holder)));
  }
  return tx.Commit();
}

Result<void> StateStore::Release(const std::string& network, const std::string& address) {
  auto parsed = ParseIPv4(address);
  const std::string canonical = parsed ? FormatIPv4(*parsed) : address;
  std::lock_guard lock(mu_);
  Statement st = TRY(db_.Prepare("DELETE FROM ip_leases WHERE network = ?1 AND address = ?2"));
  st.Bind(1, network).Bind(2, canonical);
  return st.Run();
}

Result<void> StateStore::ReleaseOwner(const std::string& owner) {
  std::lock_guard lock(mu_);
  Statement st = TRY(db_.Prepare("DELETE FROM ip_leases WHERE owner = ?1"));
  st.Bind(1, owner);
  return st.Run();
}

Result<std::vector<StateStore::LeaseRow>> StateStore::Leases(const std::string& network) {
  std::lock_guard lock(mu_);
  Statement st =
      TRY(db_.Prepare(network.empty() ? "SELECT network, address, owner FROM ip_leases ORDER BY rowid"
                                      : "SELECT network, address, owner FROM ip_leases WHERE network = ?1 "
                                        "ORDER BY rowid"));
  if (!network.empty()) st.Bind(1, network);
  std::vector<LeaseRow> out;
  while (TRY(st.Step())) out.push_back(LeaseRow{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2)});
  return out;
}

// ---- meta ----

Result<std::optional<std::string>> StateStore::GetMeta(const std::string& key) {
  std::lock_guard lock(mu_);
  return GetMetaLocked(db_, key);
}

Result<void> StateStore::SetMeta(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  return SetMetaLocked(db_, key, value);
}

}  // namespace moor::store
