#include "discovery/registrar.h"

#include <chrono>
#include <set>
#include <thread>

#include "common/log.h"

namespace moor::discovery {

namespace {

// What a container's plan depends on; equal fingerprints → nothing to redo.
std::string Fingerprint(const ContainerInfo& c) {
  std::string f = c.name + "|" + c.ip + "|" + (c.host_network ? "host" : "") + "|";
  for (int p : c.tcp_ports) f += std::to_string(p) + ",";
  f += "|";
  for (const auto& [k, v] : c.labels) {
    if (k.rfind("moor.", 0) == 0) f += k + "=" + v + ";";
  }
  return f;
}

bool Announceable(const ContainerInfo& c) { return c.status == "running"; }

}  // namespace

Registrar::Registrar(Agent& agent, TemplateManager* templates, ContainerLister& lister, std::string node_address)
    : agent_(agent), templates_(templates), lister_(lister), node_address_(std::move(node_address)) {}

void Registrar::Up(const ContainerInfo& c) {
  std::lock_guard lock(mu_);
  if (!Announceable(c)) {
    DownLocked(c.id);
    return;
  }
  UpLocked(c, false);
}

void Registrar::UpLocked(const ContainerInfo& c, bool force) {
  auto fp = Fingerprint(c);
  auto it = known_.find(c.id);
  if (it != known_.end() && it->second.fingerprint == fp && !force) {
    if (!it->second.failed_templates.empty()) {
      auto retry = std::move(it->second.failed_templates);
      it->second.failed_templates.clear();
      AddTemplates(c.name, std::move(retry), it->second, /*retry=*/true);
    }
    // Same plan: keep the docker-check mirror current (health changed).
    for (const auto& id : it->second.docker_checks) {
      if (c.health == "healthy") agent_.SetDockerCheck(id, discovery::Health::kPassing, "container is healthy");
      else if (c.health == "unhealthy") agent_.SetDockerCheck(id, discovery::Health::kCritical, "container is unhealthy");
    }
    return;
  }
  if (it != known_.end()) DownLocked(c.id);
  if (!c.ip.empty()) agent_.catalog().SetContainer({c.id, c.name, c.ip});

  ContainerPlan plan = PlanFor(c, node_address_);
  for (const auto& w : plan.warnings) log::Warn("container " + c.name + ": " + w);
  Known k;
  k.fingerprint = fp;
  k.drain_ns = plan.drain_ns;
  for (auto& inst : plan.instances) {
    for (const auto& chk : inst.checks) {
      if (chk.type == "docker") k.docker_checks.push_back(chk.id);
    }
    agent_.AddContainerInstance(inst.service, inst.checks);
  }
  for (const auto& id : k.docker_checks) {
    if (c.health == "healthy") agent_.SetDockerCheck(id, discovery::Health::kPassing, "container is healthy");
  }
  AddTemplates(c.name, std::move(plan.templates), k, /*retry=*/false);
  known_[c.id] = std::move(k);
}

void Registrar::AddTemplates(const std::string& container_name, std::vector<TemplateSpec> specs, Known& k,
                             bool retry) {
  if (!templates_) return;
  for (auto& t : specs) {
    std::string id = t.id;
    TemplateSpec copy = t;
    if (auto r = templates_->Add(std::move(t)); !r) {
      // Logged once; retried quietly at every reconcile.
      if (!retry) {
        log::Warn("container " + container_name + ": template " + id + ": " + r.error().message() +
                  " (retried at every reconcile)");
      }
      k.failed_templates.push_back(std::move(copy));
    } else {
      if (retry) log::Info("container " + container_name + ": template " + id + ": loaded");
      k.template_ids.push_back(id);
    }
  }
}

void Registrar::Down(const std::string& container_id) {
  std::lock_guard lock(mu_);
  DownLocked(container_id);
}

void Registrar::DownLocked(const std::string& container_id) {
  agent_.RemoveContainer(container_id);
  agent_.catalog().RemoveContainer(container_id);
  if (templates_) templates_->RemoveContainer(container_id);
  known_.erase(container_id);
}

void Registrar::BeforeStop(const std::string& container_id, bool drain_wanted) {
  int64_t drain = 0;
  bool had_instances = false;
  {
    std::lock_guard lock(mu_);
    auto it = known_.find(container_id);
    if (it == known_.end()) return;
    drain = it->second.drain_ns;
    for (const auto& s : agent_.catalog().Instances()) {
      if (s.container_id == container_id) had_instances = true;
    }
    DownLocked(container_id);
  }
  // Clients that looked the service up just before keep sending for a moment:
  // let them finish before the signal (only if anyone could have seen it).
  if (drain_wanted && had_instances && drain > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(drain));
}

void Registrar::Health(const std::string& container_id, const std::string& status) {
  std::lock_guard lock(mu_);
  auto it = known_.find(container_id);
  if (it == known_.end()) return;
  for (const auto& id : it->second.docker_checks) {
    if (status == "healthy") agent_.SetDockerCheck(id, discovery::Health::kPassing, "container is healthy");
    else if (status == "unhealthy") agent_.SetDockerCheck(id, discovery::Health::kCritical, "container is unhealthy");
  }
}

void Registrar::Reconcile() {
  auto all = lister_.List();
  std::lock_guard lock(mu_);
  std::set<std::string> running;
  for (const auto& c : all) {
    if (!Announceable(c)) continue;
    running.insert(c.id);
    UpLocked(c, false);
  }
  // Whatever is known or in the catalog but no longer runs.
  std::set<std::string> gone;
  for (const auto& [id, _] : known_) {
    if (!running.count(id)) gone.insert(id);
  }
  for (const auto& s : agent_.catalog().Instances()) {
    if (s.source == "container" && !running.count(s.container_id)) gone.insert(s.container_id);
  }
  for (const auto& a : agent_.catalog().Containers()) {
    if (!running.count(a.id)) gone.insert(a.id);
  }
  for (const auto& id : gone) DownLocked(id);
}

}  // namespace moor::discovery
