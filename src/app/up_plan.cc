#include "app/up_plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace moor::app {

std::vector<UpAction> PlanUp(const std::vector<DesiredService>& services,
                             const std::vector<std::string>& all_services,
                             const std::vector<ExistingContainer>& existing, bool remove_orphans) {
  using K = UpAction::Kind;
  std::vector<UpAction> out;
  std::map<std::string, std::vector<const ExistingContainer*>> by_service;
  for (const auto& c : existing) by_service[c.service].push_back(&c);

  for (const auto& svc : services) {
    auto have = by_service[svc.name];
    // Replica number → container; a container without a usable or with a
    // duplicate number is surplus.
    std::map<int, const ExistingContainer*> slot;
    std::vector<const ExistingContainer*> surplus;
    std::sort(have.begin(), have.end(), [](auto* a, auto* b) {
      return a->replica != b->replica ? a->replica < b->replica : a->name < b->name;
    });
    for (const auto* c : have) {
      if (c->replica >= 1 && c->replica <= svc.replicas && !slot.count(c->replica)) {
        slot[c->replica] = c;
      } else {
        surplus.push_back(c);
      }
    }
    // Start stopped up-to-date containers first, then fill gaps, then roll
    // the outdated ones, then remove what is above the wanted count.
    std::vector<UpAction> starts, creates, replaces;
    for (int r = 1; r <= svc.replicas; ++r) {
      auto it = slot.find(r);
      if (it == slot.end()) {
        creates.push_back({K::kCreate, svc.name, r, ""});
      } else if (it->second->digest != svc.digest) {
        replaces.push_back({K::kReplace, svc.name, r, it->second->id});
      } else if (!it->second->running) {
        starts.push_back({K::kStart, svc.name, r, it->second->id});
      }
    }
    out.insert(out.end(), starts.begin(), starts.end());
    out.insert(out.end(), creates.begin(), creates.end());
    out.insert(out.end(), replaces.begin(), replaces.end());
    std::sort(surplus.begin(), surplus.end(), [](auto* a, auto* b) { return a->replica > b->replica; });
    for (const auto* c : surplus) out.push_back({K::kRemove, svc.name, c->replica, c->id});
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
  std::string who = a.service + " #" + std::to_string(a.replica);
  switch (a.kind) {
    case UpAction::Kind::kStart: return "start " + who;
    case UpAction::Kind::kCreate: return "create " + who;
    case UpAction::Kind::kReplace: return "replace " + who + " (definition changed)";
    case UpAction::Kind::kRemove: return "remove " + who;
  }
  return "?";
}

}  // namespace moor::app
