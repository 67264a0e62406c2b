#include "discovery/agent.h"

#include <algorithm>

#include "common/log.h"

namespace moor::discovery {

namespace {

// Fills what Consul fills for a registration without it: the id, check ids
// and names.
void FillDefaults(ServiceInstance& svc, std::vector<CheckDef>& checks) {
  if (svc.id.empty()) svc.id = svc.name;
  for (size_t i = 0; i < checks.size(); ++i) {
    auto& c = checks[i];
    if (c.id.empty()) c.id = "service:" + svc.id + (checks.size() > 1 ? ":" + std::to_string(i + 1) : "");
    if (c.name.empty()) c.name = "Service '" + svc.name + "' check";
  }
}

Result<void> Validate(const ServiceInstance& svc) {
  if (svc.name.empty()) return FailInvalid("a service needs a name");
  if (SanitizeServiceName(svc.name) != svc.name) {
    return FailInvalid("service name \"" + svc.name +
                       "\" is not DNS-safe: use lower-case letters, digits and '-' (e.g. \"" +
                       SanitizeServiceName(svc.name) + "\")");
  }
  if (svc.port < 0 || svc.port > 65535) return FailInvalid("port " + std::to_string(svc.port) + " is out of range 0-65535");
  return {};
}

}  // namespace

Agent::Agent(Catalog& catalog, ContainerOps* ops) : catalog_(catalog), ops_(ops) {
  runner_ = std::make_unique<CheckRunner>(
      ops_, [this](const std::string& id, Health status, const std::string& output) { OnCheck(id, status, output); });
}

Agent::~Agent() { runner_.reset(); }

Result<void> Agent::RegisterService(ServiceInstance svc, std::vector<CheckDef> checks) {
  svc.source = "external";
  svc.container_id.clear();
  svc.container_name.clear();
  FillDefaults(svc, checks);
  TRY(Validate(svc));
  if (auto old = catalog_.Instance(svc.id); old && old->source == "container") {
    return Fail(Error(EPERM, "service id " + svc.id + " belongs to container " + old->container_name +
                                 "; choose another id"));
  }
  for (const auto& c : checks) {
    if (c.type == "docker") return FailInvalid("check " + c.id + ": docker checks are only for containers");
  }
  for (const auto& c : checks) TRY_CTX(ValidateCheck(c), "check " + c.id);
  // Checks that the previous registration had and this one has not.
  std::vector<std::string> stale;
  for (const auto& cs : catalog_.Checks()) {
    if (cs.service_id != svc.id) continue;
    if (std::none_of(checks.begin(), checks.end(), [&](const CheckDef& d) { return d.id == cs.def.id; })) {
      stale.push_back(cs.def.id);
    }
  }
  // Into the catalog first, so the runner's first result has a check to land on.
  TRY(catalog_.Register(svc, checks));
  for (const auto& c : checks) {
    if (auto r = runner_->Add(c); !r) log::Warn("check " + c.id + ": " + r.error().message());
  }
  for (const auto& id : stale) runner_->Remove(id);
  return {};
}

Result<void> Agent::DeregisterService(const std::string& service_id) {
  auto svc = catalog_.Instance(service_id);
  if (!svc) {
    std::lock_guard lock(mu_);
    if (pending_.count(service_id)) {
      return Fail(Error(EPERM, "service " + service_id + " belongs to a container; stop the container instead"));
    }
    return Fail(Error(ENOENT, "unknown service id " + service_id));
  }
  if (svc->source == "container") {
    return Fail(Error(EPERM, "service " + service_id + " belongs to container " + svc->container_name +
                                 "; stop the container or remove its moor.service label"));
  }
  for (const auto& cs : catalog_.Checks()) {
    if (cs.service_id == service_id) runner_->Remove(cs.def.id);
  }
  return catalog_.Deregister(service_id);
}

Result<void> Agent::RegisterCheck(const std::string& service_id, CheckDef def) {
  if (!service_id.empty()) {
    auto svc = catalog_.Instance(service_id);
    if (!svc) return Fail(Error(ENOENT, "unknown service id " + service_id));
    if (svc->source == "container") return Fail(Error(EPERM, "service " + service_id + " belongs to a container"));
    if (def.id.empty()) def.id = "service:" + service_id + ":" + std::to_string(catalog_.Index());
  }
  if (def.id.empty()) return FailInvalid("a node check needs an id or a name");
  if (def.name.empty()) def.name = def.id;
  if (def.type == "docker") return FailInvalid("check " + def.id + ": docker checks are only for containers");
  TRY_CTX(ValidateCheck(def), "check " + def.id);
  TRY(catalog_.AddCheck(service_id, def));
  TRY(runner_->Add(def));
  return {};
}

Result<void> Agent::DeregisterCheck(const std::string& check_id) {
  {
    std::lock_guard lock(mu_);
    if (check_owner_.count(check_id)) return Fail(Error(EPERM, "check " + check_id + " belongs to a container"));
  }
  TRY(catalog_.RemoveCheck(check_id));
  runner_->Remove(check_id);
  return {};
}

Result<void> Agent::UpdateTtl(const std::string& check_id, Health status, const std::string& output) {
  // A TTL check of a container instance that is still pending lives only in
  // the runner; the catalog has the others.
  return runner_->TtlUpdate(check_id, status, output);
}

void Agent::AddContainerInstance(ServiceInstance svc, std::vector<CheckDef> checks) {
  svc.source = "container";
  FillDefaults(svc, checks);
  if (auto v = Validate(svc); !v) {
    log::Warn("container " + svc.container_name + ": not registered: " + v.error().message());
    return;
  }
  bool registered = catalog_.Instance(svc.id).has_value();
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(svc.id);
    if (it != pending_.end() && it->second.svc.address == svc.address && it->second.svc.port == svc.port &&
        it->second.svc.tags == svc.tags && it->second.svc.meta == svc.meta) {
      return;  // already waiting for its first pass
    }
  }
  if (registered) {
    // Re-registration of a known instance (reconcile): a no-op in the
    // catalog when nothing changed; checks keep their status.
    auto old = catalog_.Instance(svc.id);
    std::vector<CheckDef> old_defs;
    for (const auto& cs : catalog_.Checks()) {
      if (cs.service_id == svc.id) old_defs.push_back(cs.def);
    }
    if (old && old->address == svc.address && old->port == svc.port) {
      (void)catalog_.Register(svc, checks);
      std::lock_guard lock(mu_);
      for (const auto& c : checks) {
        check_owner_[c.id] = svc.id;
      }
      for (const auto& c : checks) {
        if (c.type != "docker" && !runner_->Has(c.id)) (void)runner_->Add(c);
      }
      return;
    }
    // New address (restart on another IP): out until it passes again.
    for (const auto& c : old_defs) runner_->Remove(c.id);
    (void)catalog_.Deregister(svc.id);
  }
  if (checks.empty()) {
    (void)catalog_.Register(svc, {});
    return;
  }
  {
    std::lock_guard lock(mu_);
    pending_[svc.id] = {svc, checks};
    for (const auto& c : checks) check_owner_[c.id] = svc.id;
  }
  for (const auto& c : checks) {
    if (c.type == "docker") continue;
    if (auto r = runner_->Add(c); !r) {
      log::Warn("container " + svc.container_name + ": check " + c.id + ": " + r.error().message());
    }
  }
}

void Agent::SetDockerCheck(const std::string& check_id, Health status, const std::string& output) {
  OnCheck(check_id, status, output);
}

void Agent::RemoveContainer(const std::string& container_id) {
  std::vector<std::string> checks;
  {
    std::lock_guard lock(mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.svc.container_id == container_id) {
        for (const auto& c : it->second.checks) checks.push_back(c.id);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& svc : catalog_.Instances()) {
    if (svc.source != "container" || svc.container_id != container_id) continue;
    for (const auto& cs : catalog_.Checks()) {
      if (cs.service_id == svc.id) checks.push_back(cs.def.id);
    }
  }
  catalog_.DeregisterContainer(container_id);
  std::lock_guard lock(mu_);
  for (const auto& id : checks) {
    check_owner_.erase(id);
    runner_->Remove(id);
  }
}

std::vector<std::string> Agent::Pending() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, _] : pending_) out.push_back(id);
  return out;
}

void Agent::OnCheck(const std::string& check_id, Health status, const std::string& output) {
  std::unique_lock lock(mu_);
  auto owner = check_owner_.find(check_id);
  if (owner != check_owner_.end()) {
    auto it = pending_.find(owner->second);
    if (it != pending_.end()) {
      if (status != Health::kPassing) return;  // not ready yet
      // First pass: the instance enters the catalog with this check passing
      // and its other checks at their initial status.
      PendingInstance p = std::move(it->second);
      pending_.erase(it);
      lock.unlock();
      for (auto& c : p.checks) {
        if (c.id == check_id) c.initial = Health::kPassing;
      }
      if (auto r = catalog_.Register(p.svc, p.checks, /*reset_checks=*/true); !r) {
        log::Warn("register " + p.svc.id + ": " + r.error().message());
        return;
      }
      (void)catalog_.UpdateCheck(check_id, status, output);
      return;
    }
  }
  lock.unlock();
  (void)catalog_.UpdateCheck(check_id, status, output);
}

}  // namespace moor::discovery
