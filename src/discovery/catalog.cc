// Catalog: services and checks (KV, containers, indexes and blocking live in
// catalog_kv.cc and catalog_index.cc; the release gate in catalog_gate.cc;
// persistence in catalog_store.cc).
#include "discovery/catalog.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/log.h"
#include "discovery/catalog_internal.h"

namespace moor::discovery {

int64_t MonotonicNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

std::string Quote(const std::string& s) {
  return "\"" + s + "\"";
}

Error NoService(const std::string& id) {
  return Error(ENOENT, "no service " + Quote(id) + " is registered: see `moor service ls`");
}

Error NoCheck(const std::string& id) {
  return Error(ENOENT, "no check " + Quote(id) + " is registered");
}

std::string Owner(const CheckState& c) {
  return c.service_id.empty() ? std::string("the node") : "service " + Quote(c.service_id);
}

// A fresh state for a check that has never run (or is being reset).
CheckState FreshCheck(const CheckDef& def, const std::string& service_id, const std::string& service_name) {
  CheckState st;
  st.def = def;
  st.service_id = service_id;
  st.service_name = service_name;
  st.status = def.initial;
  st.critical_since_ns = st.status == Health::kCritical ? MonotonicNowNs() : 0;
  return st;
}

bool SameCheck(const CheckState& a, const CheckState& b) {
  return a.status == b.status && a.output == b.output && a.service_name == b.service_name &&
         CheckDefToJson(a.def) == CheckDefToJson(b.def);
}

}  // namespace

// ---- Impl helpers ----------------------------------------------------------

uint64_t Catalog::Impl::Bump() {
  ++index;
  if (store && index > index_reserved) {
    uint64_t want = index + kIndexReserve;
    if (auto r = store->SetIndex(want); r) {
      index_reserved = want;
    } else {
      // Retried on the next mutation; only a restart before then could
      // reuse indexes.
      log::Warn("discovery catalog: persist index: " + r.error().message());
    }
  }
  return index;
}

void Catalog::Impl::TouchService(const std::string& name, uint64_t idx, bool set_changed) {
  service_name_index[name] = idx;
  checks_index = idx;
  if (set_changed) services_index = idx;
}

void Catalog::Impl::TouchNodeCheck(uint64_t idx) {
  for (auto& [name, i] : service_name_index) i = idx;
  checks_index = idx;
  nodes_index = idx;
}

bool Catalog::Impl::CheckPersisted(const CheckState& c) const {
  if (!store) return false;
  if (c.service_id.empty()) return true;
  auto it = services.find(c.service_id);
  return it != services.end() && it->second.source != "container";
}

void Catalog::Impl::EraseService(const std::string& id, uint64_t idx) {
  auto it = services.find(id);
  if (it == services.end()) return;
  std::string name = it->second.name;
  std::erase_if(checks, [&](const auto& entry) { return entry.second.service_id == id; });
  services.erase(it);
  TouchService(name, idx, true);
}

// ---- Catalog ----------------------------------------------------------------

Catalog::Catalog(Node node) : node_(std::move(node)), impl_(std::make_unique<Impl>()) {}

Catalog::~Catalog() = default;

Result<void> Catalog::Register(ServiceInstance svc, std::vector<CheckDef> checks, bool reset_checks) {
  if (svc.id.empty()) return FailInvalid("service instance has no id: give it an ID");
  if (svc.name.empty()) return FailInvalid("service instance " + Quote(svc.id) + " has no name: give it a Name");
  if (svc.port < 0 || svc.port > 65535) {
    return FailInvalid("service " + Quote(svc.id) + ": port " + std::to_string(svc.port) +
                       " is outside 0..65535");
  }
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    std::set<std::string> seen;
    for (const CheckDef& d : checks) {
      if (d.id.empty()) return FailInvalid("service " + Quote(svc.id) + " has a check without an id");
      if (!seen.insert(d.id).second) {
        return FailInvalid("service " + Quote(svc.id) + " lists check " + Quote(d.id) + " twice: give each check its own id");
      }
      auto it = m.checks.find(d.id);
      if (it != m.checks.end() && it->second.service_id != svc.id) {
        return FailInvalid("check id " + Quote(d.id) + " is already used by " + Owner(it->second) +
                           ": choose another check id");
      }
    }

    auto old_it = m.services.find(svc.id);
    const ServiceInstance* old = old_it == m.services.end() ? nullptr : &old_it->second;

    // The instance's checks as they will be, statuses kept unless reset.
    std::map<std::string, CheckState> next;
    for (const CheckDef& d : checks) {
      CheckState st = FreshCheck(d, svc.id, svc.name);
      auto it = m.checks.find(d.id);
      if (it != m.checks.end()) {
        st.create_index = it->second.create_index;
        st.modify_index = it->second.modify_index;
        if (!reset_checks) {
          st.status = it->second.status;
          st.output = it->second.output;
          st.critical_since_ns = it->second.critical_since_ns;
        }
      }
      next.emplace(d.id, std::move(st));
    }
    std::vector<std::string> removed;
    for (const auto& [id, c] : m.checks) {
      if (c.service_id == svc.id && !next.contains(id)) removed.push_back(id);
    }

    bool svc_changed = old == nullptr || InstanceToJson(*old, false) != InstanceToJson(svc, false);
    std::set<std::string> changed_checks;
    for (const auto& [id, st] : next) {
      auto it = m.checks.find(id);
      if (it == m.checks.end() || !SameCheck(it->second, st)) changed_checks.insert(id);
    }
    // The registrar re-registers on its reconcile timer: nothing changed,
    // nothing to bump or write.
    if (!svc_changed && changed_checks.empty() && removed.empty()) return {};

    const uint64_t idx = m.Bump();
    svc.create_index = old != nullptr ? old->create_index : idx;
    svc.modify_index = svc_changed ? idx : old->modify_index;
    for (auto& [id, st] : next) {
      if (!changed_checks.contains(id)) continue;
      if (st.create_index == 0) st.create_index = idx;
      st.modify_index = idx;
    }

    const bool old_persisted = old != nullptr && m.Persisted(*old);
    const bool new_persisted = m.Persisted(svc);
    if (old_persisted || new_persisted) {
      auto tx = TRY_CTX(m.store->Begin(), "register service " + Quote(svc.id));
      if (old_persisted) {
        for (const auto& [id, c] : m.checks) {
          if (c.service_id == svc.id) TRY_CTX(m.store->DeleteCheck(id), "register service " + Quote(svc.id));
        }
        if (!new_persisted) TRY_CTX(m.store->DeleteService(svc.id), "register service " + Quote(svc.id));
      }
      if (new_persisted) {
        TRY_CTX(m.store->PutService(svc), "register service " + Quote(svc.id));
        for (const auto& [id, st] : next) TRY_CTX(m.store->PutCheck(st), "register service " + Quote(svc.id));
      }
      TRY_CTX(tx.Commit(), "register service " + Quote(svc.id));
    }

    bool set_changed = old == nullptr || old->name != svc.name || old->tags != svc.tags;
    if (old != nullptr && old->name != svc.name) m.TouchService(old->name, idx, true);
    m.TouchService(svc.name, idx, set_changed);
    for (const auto& id : removed) m.checks.erase(id);
    for (auto& [id, st] : next) m.checks.insert_or_assign(id, std::move(st));
    m.services.insert_or_assign(svc.id, std::move(svc));
  }
  impl_->Notify();
  return {};
}

Result<void> Catalog::Deregister(const std::string& service_id) {
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    auto it = m.services.find(service_id);
    if (it == m.services.end()) return Fail(NoService(service_id));
    if (m.Persisted(it->second)) {
      auto tx = TRY_CTX(m.store->Begin(), "deregister service " + Quote(service_id));
      for (const auto& [id, c] : m.checks) {
        if (c.service_id == service_id) TRY_CTX(m.store->DeleteCheck(id), "deregister service " + Quote(service_id));
      }
      TRY_CTX(m.store->DeleteService(service_id), "deregister service " + Quote(service_id));
      TRY_CTX(tx.Commit(), "deregister service " + Quote(service_id));
    }
    m.EraseService(service_id, m.Bump());
  }
  impl_->Notify();
  return {};
}

std::vector<std::string> Catalog::DeregisterContainer(const std::string& container_id) {
  std::vector<std::string> ids;
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    for (const auto& [id, s] : m.services) {
      if (s.source == "container" && s.container_id == container_id) ids.push_back(id);
    }
    if (ids.empty()) return ids;
    // Container instances are never persisted: memory only.
    const uint64_t idx = m.Bump();
    for (const auto& id : ids) m.EraseService(id, idx);
  }
  impl_->Notify();
  return ids;
}

std::optional<ServiceInstance> Catalog::Instance(const std::string& service_id) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->services.find(service_id);
  if (it == impl_->services.end()) return std::nullopt;
  return it->second;
}

std::vector<ServiceInstance> Catalog::Instances() const {
  std::vector<ServiceInstance> out;
  {
    std::lock_guard lk(impl_->mu);
    for (const auto& [id, s] : impl_->services) out.push_back(s);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ServiceInstance& a, const ServiceInstance& b) { return a.name < b.name; });
  return out;
}

std::map<std::string, std::vector<std::string>> Catalog::ServiceNames() const {
  std::map<std::string, std::set<std::string>> sets;
  {
    std::lock_guard lk(impl_->mu);
    for (const auto& [id, s] : impl_->services) sets[s.name].insert(s.tags.begin(), s.tags.end());
  }
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [name, tags] : sets) out[name] = std::vector<std::string>(tags.begin(), tags.end());
  return out;
}

std::vector<InstanceHealth> Catalog::Health(const std::string& name, const std::string& tag, bool passing_only,
                                            bool gated) const {
  std::vector<InstanceHealth> out;
  std::lock_guard lk(impl_->mu);
  std::vector<const CheckState*> node_checks;
  for (const auto& [id, c] : impl_->checks) {
    if (c.service_id.empty()) node_checks.push_back(&c);
  }
  for (const auto& [id, s] : impl_->services) {
    if (s.name != name) continue;
    InstanceHealth ih;
    ih.service = s;
    // Consul counts the node's checks in every instance's health.
    for (const CheckState* c : node_checks) ih.checks.push_back(*c);
    for (const auto& [cid, c] : impl_->checks) {
      if (c.service_id == id) ih.checks.push_back(c);
    }
    for (const auto& c : ih.checks) ih.health = std::max(ih.health, c.status);
    out.push_back(std::move(ih));
  }
  // The gate decides over the whole service, before the tag and passing
  // filters, so every view of it agrees on which release it shows.
  if (gated) impl_->ApplyReleaseGate(name, out);
  std::erase_if(out, [&](const InstanceHealth& ih) {
    const auto& tags = ih.service.tags;
    if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) return true;
    return passing_only && ih.health != Health::kPassing;
  });
  return out;
}

std::vector<ServiceInstance> Catalog::Usable(const std::string& name, const std::string& tag) const {
  std::vector<ServiceInstance> out;
  for (auto& ih : Health(name, tag, false)) {
    if (ih.health != Health::kCritical) out.push_back(std::move(ih.service));
  }
  return out;
}

Result<void> Catalog::AddCheck(const std::string& service_id, CheckDef def) {
  if (def.id.empty()) return FailInvalid("check has no id: give it an ID");
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    std::string service_name;
    if (!service_id.empty()) {
      auto sit = m.services.find(service_id);
      if (sit == m.services.end()) return Fail(NoService(service_id));
      service_name = sit->second.name;
    }
    CheckState st = FreshCheck(def, service_id, service_name);
    auto it = m.checks.find(def.id);
    if (it != m.checks.end()) {
      if (it->second.service_id != service_id) {
        return FailInvalid("check id " + Quote(def.id) + " is already used by " + Owner(it->second) +
                           ": choose another check id");
      }
      if (CheckDefToJson(it->second.def) == CheckDefToJson(def)) return {};
      st.status = it->second.status;
      st.output = it->second.output;
      st.critical_since_ns = it->second.critical_since_ns;
      st.create_index = it->second.create_index;
    }
    const uint64_t idx = m.Bump();
    if (st.create_index == 0) st.create_index = idx;
    st.modify_index = idx;
    if (m.CheckPersisted(st)) TRY_CTX(m.store->PutCheck(st), "add check " + Quote(def.id));
    if (service_id.empty()) {
      m.TouchNodeCheck(idx);
    } else {
      m.TouchService(service_name, idx, false);
    }
    m.checks.insert_or_assign(def.id, std::move(st));
  }
  impl_->Notify();
  return {};
}

Result<void> Catalog::RemoveCheck(const std::string& check_id) {
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    auto it = m.checks.find(check_id);
    if (it == m.checks.end()) return Fail(NoCheck(check_id));
    if (m.CheckPersisted(it->second)) TRY_CTX(m.store->DeleteCheck(check_id), "remove check " + Quote(check_id));
    const uint64_t idx = m.Bump();
    if (it->second.service_id.empty()) {
      m.TouchNodeCheck(idx);
    } else {
      m.TouchService(it->second.service_name, idx, false);
    }
    m.checks.erase(it);
  }
  impl_->Notify();
  return {};
}

Result<void> Catalog::UpdateCheck(const std::string& check_id, discovery::Health status, const std::string& output) {
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    auto it = m.checks.find(check_id);
    if (it == m.checks.end()) return Fail(NoCheck(check_id));
    if (it->second.status == status && it->second.output == output) return {};
    CheckState st = it->second;
    if (status == Health::kCritical && st.status != Health::kCritical) st.critical_since_ns = MonotonicNowNs();
    if (status != Health::kCritical) st.critical_since_ns = 0;
    st.status = status;
    st.output = output;
    const uint64_t idx = m.Bump();
    st.modify_index = idx;
    if (m.CheckPersisted(st)) TRY_CTX(m.store->PutCheck(st), "update check " + Quote(check_id));
    if (st.service_id.empty()) {
      m.TouchNodeCheck(idx);
    } else {
      m.TouchService(st.service_name, idx, false);
    }
    it->second = std::move(st);
  }
  impl_->Notify();
  return {};
}

std::optional<CheckState> Catalog::Check(const std::string& check_id) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->checks.find(check_id);
  if (it == impl_->checks.end()) return std::nullopt;
  return it->second;
}

std::vector<CheckState> Catalog::Checks() const {
  std::vector<CheckState> out;
  std::lock_guard lk(impl_->mu);
  for (const auto& [id, c] : impl_->checks) out.push_back(c);
  return out;
}

std::vector<std::string> Catalog::ReapCritical(int64_t now_ns) {
  std::set<std::string> due;
  {
    std::lock_guard lk(impl_->mu);
    for (const auto& [id, c] : impl_->checks) {
      if (c.service_id.empty() || c.status != Health::kCritical) continue;
      if (c.def.deregister_critical_after_ns <= 0 || c.critical_since_ns == 0) continue;
      if (now_ns - c.critical_since_ns > c.def.deregister_critical_after_ns) due.insert(c.service_id);
    }
  }
  std::vector<std::string> reaped;
  for (const auto& id : due) {
    // Another thread may have removed it meanwhile: that is fine.
    if (auto r = Deregister(id); r) {
      reaped.push_back(id);
    } else if (r.error().errnum() != ENOENT) {
      log::Warn("discovery catalog: deregister critical service \"" + id + "\": " + r.error().message());
    }
  }
  return reaped;
}

}  // namespace moor::discovery
