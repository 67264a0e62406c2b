#include "app/up_plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace moor::app {

namespace {

// Lowest numbers (from 1) not in `used`; each one returned is added to it.
int NextFree(std::set<int>& used) {
  int n = 1;
  while (used.count(n)) ++n;
  used.insert(n);
  return n;
}

}  // namespace

std::vector<UpAction> PlanUp(const std::vector<DesiredService>& services,
                             const std::vector<std::string>& all_services,
                             const std::vector<ExistingContainer>& existing, bool remove_orphans) {
  using K = UpAction::Kind;
  std::vector<UpAction> out;
  std::map<std::string, std::vector<const ExistingContainer*>> by_service;
  for (const auto& c : existing) by_service[c.service].push_back(&c);

  for (const auto& svc : services) {
    auto have = by_service[svc.name];
    std::sort(have.begin(), have.end(), [](auto* a, auto* b) {
      return a->replica != b->replica ? a->replica < b->replica : a->name < b->name;
    });
    // Every number a container holds stays taken until it is gone; a
    // container without a usable number, or with one already held, is surplus.
    std::set<int> used;
    std::vector<const ExistingContainer*> current, outdated, surplus;
    for (const auto* c : have) {
      if (c->replica < 1 || used.count(c->replica)) {
        surplus.push_back(c);
        continue;
      }
      used.insert(c->replica);
      (c->digest == svc.digest ? current : outdated).push_back(c);
    }
    // Keep up-to-date ones, running first, then by number.
    std::stable_sort(current.begin(), current.end(), [](auto* a, auto* b) { return a->running > b->running; });
    const size_t want = svc.replicas > 0 ? static_cast<size_t>(svc.replicas) : 0;
    std::vector<UpAction> starts, creates, replaces, removes;
    size_t kept = 0;
    for (const auto* c : current) {
      if (kept < want) {
        ++kept;
        if (!c->running && !(svc.runs_once && c->exited_ok)) starts.push_back({K::kStart, svc.name, c->replica, c->id});
      } else {
        surplus.push_back(c);
      }
    }
    for (const auto* c : outdated) {
      if (kept < want) {
        ++kept;
        replaces.push_back({K::kReplace, svc.name, NextFree(used), c->id, c->replica});
      } else {
        surplus.push_back(c);
      }
    }
    while (kept < want) {
      ++kept;
      creates.push_back({K::kCreate, svc.name, NextFree(used), ""});
    }
    std::stable_sort(surplus.begin(), surplus.end(), [](auto* a, auto* b) { return a->replica > b->replica; });
    for (const auto* c : surplus) removes.push_back({K::kRemove, svc.name, c->replica, c->id});
    for (auto* part : {&starts, &creates, &replaces, &removes}) out.insert(out.end(), part->begin(), part->end());
  }

  if (remove_orphans) {
    std::set<std::string> known(all_services.begin(), all_services.end());
    std::vector<const ExistingContainer*> orphans;
    for (const auto& c : existing) {
      if (!known.count(c.service)) orphans.push_back(&c);
    }
    std::sort(orphans.begin(), orphans.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* c : orphans) out.push_back({K::kRemove, c->service, c->replica, c->id});
  }
  return out;
}

std::string ContainerName(const std::string& app, const std::string& service, int replica) {
  return app + "-" + service + "-" + std::to_string(replica);
}

std::string DescribeAction(const UpAction& a) {
  std::string who = a.service + "-" + std::to_string(a.replica);
  switch (a.kind) {
    case UpAction::Kind::kStart: return "start " + who;
    case UpAction::Kind::kCreate: return "create " + who;
    case UpAction::Kind::kReplace:
      return "replace " + a.service + "-" + std::to_string(a.old_replica) + " with " + who + " (definition changed)";
    case UpAction::Kind::kRemove: return "remove " + who;
  }
  return "?";
}

}  // namespace moor::app
