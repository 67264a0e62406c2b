// The engine's persistent state: containers, networks, volumes and IP leases,
// in one SQLite file (ROOT/state.db). Objects are stored as JSON documents
// (the engine owns their shape) with the columns needed for uniqueness and
// lookup. Thread-safe: every method takes an internal mutex. Several
// processes may open the same file: writes that read first run in IMMEDIATE
// transactions and a busy connection waits up to 5 s.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/sqlite.h"

namespace moor::store {

// One stored object: containers, networks and volumes all have this form.
struct Object {
  std::string id;    // unique within its kind
  std::string name;  // unique within its kind (may equal id)
  std::string json;  // the engine's document
};

enum class Kind { kContainer, kNetwork, kVolume };

class StateStore {
 public:
  // Opens ROOT/state.db (creating ROOT), applying schema migrations.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& root);
  static Result<std::unique_ptr<StateStore>> OpenMemory();  // tests

  // Insert fails with errnum EEXIST and `KIND name "X" is already in use by
  // KIND ID` when the name is taken, `KIND ID already exists` for the id.
  // Update's ENOENT message is "no such KIND: ID".
  Result<void> Insert(Kind k, const Object& o);
  // Replaces json (and name, for rename; EEXIST when taken). ENOENT when absent.
  Result<void> Update(Kind k, const Object& o);
  Result<void> Remove(Kind k, const std::string& id);  // absent: ok
  Result<std::optional<Object>> Get(Kind k, const std::string& id);
  Result<std::optional<Object>> GetByName(Kind k, const std::string& name);
  Result<std::vector<Object>> List(Kind k);  // insertion order

  // IPv4 leases: (network, address) is unique. Lease() hands out the first
  // free address in [first, last] (host byte order) after the last one it
  // handed out in this network (round-robin, so a released address is not
  // reused at once), records it for owner and remembers it, atomically and
  // persistently (meta "ipam.last.<network>"). Error ENOSPC "network N has
  // no free address in A-B" when full; EINVAL when first > last.
  Result<std::string> Lease(const std::string& network, uint32_t first, uint32_t last,
                            const std::string& owner);
  // Leases a specific address (--ip), stored in canonical dotted form; EEXIST
  // "address A in network N is already in use by OWNER" when taken, EINVAL
  // when not an IPv4 address.
  Result<void> LeaseExact(const std::string& network, const std::string& address, const std::string& owner);
  Result<void> Release(const std::string& network, const std::string& address);
  Result<void> ReleaseOwner(const std::string& owner);  // every lease of a container
  struct LeaseRow {
    std::string network, address, owner;
  };
  Result<std::vector<LeaseRow>> Leases(const std::string& network);  // "" = all; lease order

  // Small settings (e.g. the last address handed out per network, for IPAM
  // round-robin; the daemon's own id).
  Result<std::optional<std::string>> GetMeta(const std::string& key);
  Result<void> SetMeta(const std::string& key, const std::string& value);

 private:
  explicit StateStore(Database db) : db_(std::move(db)) {}
  std::mutex mu_;
  Database db_;
};

}  // namespace moor::store
