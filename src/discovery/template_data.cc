// TemplateData over the local Catalog.
#include <algorithm>

#include "discovery/catalog.h"
#include "discovery/template_engine.h"

namespace moor::discovery {

std::vector<InstanceHealth> CatalogTemplateData::Service(const std::string& name, const std::string& tag,
                                                         const std::vector<Health>& states) {
  std::vector<InstanceHealth> out = catalog_.Health(name, tag, /*passing_only=*/false);
  std::erase_if(out, [&](const InstanceHealth& h) {
    return std::find(states.begin(), states.end(), h.health) == states.end();
  });
  return out;
}

std::map<std::string, std::vector<std::string>> CatalogTemplateData::Services() { return catalog_.ServiceNames(); }

std::optional<KvEntry> CatalogTemplateData::Key(const std::string& key) { return catalog_.KvGet(key); }

std::vector<KvEntry> CatalogTemplateData::List(const std::string& prefix) { return catalog_.KvList(prefix); }

Node CatalogTemplateData::LocalNode() { return catalog_.node(); }

}  // namespace moor::discovery
