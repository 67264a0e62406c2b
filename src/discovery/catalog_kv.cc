// Catalog: the KV store (Consul semantics) and the container address table.
#include <algorithm>
#include <cerrno>

#include "discovery/catalog.h"
#include "discovery/catalog_internal.h"

namespace moor::discovery {
namespace {

constexpr size_t kMaxValueBytes = 512 * 1024;
// Tombstones kept before the oldest half is folded into kv_floor.
constexpr size_t kMaxTombstones = 4096;

// Consul's keys never start with "/": "/a/b" and "a/b" are the same key.
std::string NormalizeKey(const std::string& key) {
  return !key.empty() && key.front() == '/' ? key.substr(1) : key;
}

bool HasPrefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Drops the older half of the tombstones once there are too many; prefix
// indexes then answer at least the highest dropped index (a spurious wake
// for old prefixes, never a missed one).
void CapTombstones(std::map<std::string, uint64_t>& tombstones, uint64_t& floor) {
  if (tombstones.size() <= kMaxTombstones) return;
  std::vector<uint64_t> idx;
  idx.reserve(tombstones.size());
  for (const auto& [k, i] : tombstones) idx.push_back(i);
  auto mid = idx.begin() + static_cast<std::ptrdiff_t>(idx.size() / 2);
  std::nth_element(idx.begin(), mid, idx.end());
  const uint64_t cut = *mid;
  std::erase_if(tombstones, [&](const auto& t) {
    if (t.second > cut) return false;
    floor = std::max(floor, t.second);
    return true;
  });
}

}  // namespace

std::optional<KvEntry> Catalog::KvGet(const std::string& key) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->kv.find(NormalizeKey(key));
  if (it == impl_->kv.end()) return std::nullopt;
  return it->second;
}

std::vector<KvEntry> Catalog::KvList(const std::string& prefix) const {
  const std::string p = NormalizeKey(prefix);
  std::vector<KvEntry> out;
  std::lock_guard lk(impl_->mu);
  for (auto it = impl_->kv.lower_bound(p); it != impl_->kv.end() && HasPrefix(it->first, p); ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<bool> Catalog::KvPut(const std::string& key, const std::string& value, uint64_t flags,
                            std::optional<uint64_t> cas) {
  const std::string k = NormalizeKey(key);
  if (k.empty()) return FailInvalid("KV key is empty: give a key such as app/config");
  if (value.size() > kMaxValueBytes) {
    return FailInvalid("KV \"" + k + "\": value too large (" + std::to_string(value.size()) +
                       " bytes; limit 512 KiB)");
  }
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    auto it = m.kv.find(k);
    if (cas) {
      // cas=0: create only; cas=N: only over the entry last modified at N.
      if (*cas == 0 && it != m.kv.end()) return false;
      if (*cas != 0 && (it == m.kv.end() || it->second.modify_index != *cas)) return false;
    }
    const uint64_t idx = m.Bump();
    KvEntry e;
    if (it != m.kv.end()) {
      e = it->second;
    } else {
      e.key = k;
      e.create_index = idx;
    }
    e.value = value;
    e.flags = flags;
    e.modify_index = idx;
    if (m.store) TRY_CTX(m.store->PutKv(e), "put KV \"" + k + "\"");
    m.kv.insert_or_assign(k, std::move(e));
    m.kv_tombstones.erase(k);
  }
  impl_->Notify();
  return true;
}

Result<bool> Catalog::KvDelete(const std::string& key, bool recurse, std::optional<uint64_t> cas) {
  const std::string k = NormalizeKey(key);
  if (!recurse && k.empty()) return FailInvalid("KV key is empty: give a key, or recurse to delete a prefix");
  if (recurse && cas) return FailInvalid("KV delete: cas cannot be combined with recurse");
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    std::vector<std::string> doomed;
    if (recurse) {
      for (auto it = m.kv.lower_bound(k); it != m.kv.end() && HasPrefix(it->first, k); ++it) {
        doomed.push_back(it->first);
      }
    } else if (auto it = m.kv.find(k); it != m.kv.end()) {
      if (cas && it->second.modify_index != *cas) return false;
      doomed.push_back(k);
    }
    // Deleting what is not there succeeds, as in Consul, and changes nothing.
    if (doomed.empty()) return true;
    if (m.store) {
      auto tx = TRY_CTX(m.store->Begin(), "delete KV \"" + k + "\"");
      for (const auto& d : doomed) TRY_CTX(m.store->DeleteKv(d), "delete KV \"" + d + "\"");
      TRY_CTX(tx.Commit(), "delete KV \"" + k + "\"");
    }
    const uint64_t idx = m.Bump();
    for (const auto& d : doomed) {
      m.kv.erase(d);
      m.kv_tombstones[d] = idx;
    }
    CapTombstones(m.kv_tombstones, m.kv_floor);
  }
  impl_->Notify();
  return true;
}

uint64_t Catalog::KvIndex(const std::string& key_or_prefix, bool prefix) const {
  const std::string k = NormalizeKey(key_or_prefix);
  std::lock_guard lk(impl_->mu);
  const Impl& m = *impl_;
  if (!prefix) {
    if (auto it = m.kv.find(k); it != m.kv.end()) return it->second.modify_index;
    if (auto it = m.kv_tombstones.find(k); it != m.kv_tombstones.end()) return std::max(it->second, m.kv_floor);
    return std::max<uint64_t>(m.kv_floor, 1);
  }
  uint64_t best = std::max<uint64_t>(m.kv_floor, 1);
  for (auto it = m.kv.lower_bound(k); it != m.kv.end() && HasPrefix(it->first, k); ++it) {
    best = std::max(best, it->second.modify_index);
  }
  for (auto it = m.kv_tombstones.lower_bound(k); it != m.kv_tombstones.end() && HasPrefix(it->first, k); ++it) {
    best = std::max(best, it->second);
  }
  return best;
}

// ---- containers ---------------------------------------------------------------

void Catalog::SetContainer(ContainerAddress a) {
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    if (!a.name.empty() && a.name.front() == '/') a.name.erase(0, 1);
    auto it = m.containers.find(a.id);
    if (it != m.containers.end() && it->second.name == a.name && it->second.ip == a.ip) return;
    m.Bump();
    m.containers.insert_or_assign(a.id, std::move(a));
  }
  impl_->Notify();
}

void Catalog::RemoveContainer(const std::string& container_id) {
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    if (m.containers.erase(container_id) == 0) return;
    m.Bump();
  }
  impl_->Notify();
}

std::vector<ContainerAddress> Catalog::Containers() const {
  std::vector<ContainerAddress> out;
  {
    std::lock_guard lk(impl_->mu);
    for (const auto& [id, a] : impl_->containers) out.push_back(a);
  }
  std::sort(out.begin(), out.end(), [](const ContainerAddress& a, const ContainerAddress& b) {
    return a.name != b.name ? a.name < b.name : a.id < b.id;
  });
  return out;
}

std::optional<ContainerAddress> Catalog::ContainerByName(const std::string& name) const {
  const std::string n = !name.empty() && name.front() == '/' ? name.substr(1) : name;
  std::lock_guard lk(impl_->mu);
  for (const auto& [id, a] : impl_->containers) {
    if (a.name == n) return a;
  }
  return std::nullopt;
}

std::optional<ContainerAddress> Catalog::ContainerByIp(const std::string& ip) const {
  std::lock_guard lk(impl_->mu);
  for (const auto& [id, a] : impl_->containers) {
    if (a.ip == ip) return a;
  }
  return std::nullopt;
}

}  // namespace moor::discovery
