// Catalog: the release gate of rolling deploys (docs/design/deploy.md §5).
// While a service is gated to release N, the views that route traffic show
// only N's instances, so a client that reached N never falls back to N-1.
#include <algorithm>

#include "discovery/catalog.h"
#include "discovery/catalog_internal.h"

namespace moor::discovery {

namespace {

bool OfRelease(const ServiceInstance& s, const std::string& release) {
  auto it = s.meta.find(Catalog::kReleaseMeta);
  return it != s.meta.end() && it->second == release;
}

}  // namespace

void Catalog::Impl::ApplyReleaseGate(const std::string& name, std::vector<InstanceHealth>& all) const {
  auto gate = release_gates.find(name);
  if (gate == release_gates.end()) return;
  const std::string& release = gate->second;
  const bool live_passing = std::any_of(all.begin(), all.end(), [&](const InstanceHealth& ih) {
    return ih.health == Health::kPassing && OfRelease(ih.service, release);
  });
  // Fail-open: with no passing instance of the release, hiding the others
  // would empty the service.
  if (!live_passing) return;
  std::erase_if(all, [&](const InstanceHealth& ih) { return !OfRelease(ih.service, release); });
}

Result<uint64_t> Catalog::SetReleaseGate(const std::string& name, const std::string& release) {
  if (name.empty()) return FailInvalid("release gate: no service name given");
  uint64_t idx;
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    auto it = m.release_gates.find(name);
    const std::string current = it == m.release_gates.end() ? std::string() : it->second;
    if (current == release) {
      auto si = m.service_name_index.find(name);
      return si != m.service_name_index.end() ? si->second : m.services_index;
    }
    if (release.empty()) {
      m.release_gates.erase(it);
    } else {
      m.release_gates[name] = release;
    }
    idx = m.Bump();
    m.TouchService(name, idx, false);
  }
  impl_->Notify();
  return idx;
}

std::string Catalog::ReleaseGate(const std::string& name) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->release_gates.find(name);
  return it == impl_->release_gates.end() ? std::string() : it->second;
}

}  // namespace moor::discovery
