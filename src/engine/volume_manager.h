// Named (and anonymous) local volumes: ROOT/volumes/NAME/_data, records in
// the state store. Thread-safe through the store.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/engine_config.h"
#include "store/state_store.h"

namespace moor::engine {

struct VolumeInfo {
  std::string name;
  std::string mountpoint;
  std::string created;
  std::map<std::string, std::string> labels;
  bool anonymous = false;
};

std::string VolumeToJson(const VolumeInfo& v);  // Docker's shape

class VolumeManager {
 public:
  VolumeManager(const EngineConfig& cfg, store::StateStore& store) : cfg_(cfg), store_(store) {}
  // Existing name: returns it (Docker's behaviour for create of an existing volume).
  Result<VolumeInfo> Create(const std::string& name, const std::map<std::string, std::string>& labels,
                            bool anonymous = false);
  Result<VolumeInfo> Get(const std::string& name);
  Result<std::vector<VolumeInfo>> List();
  // in_use: error 409 (EBUSY) unless force... Docker refuses even with force.
  Result<void> Remove(const std::string& name, bool in_use);

 private:
  const EngineConfig& cfg_;
  store::StateStore& store_;
};

// [a-zA-Z0-9][a-zA-Z0-9_.-]* (Docker's rule for container, volume and network names).
bool ValidObjectName(const std::string& name);

}  // namespace moor::engine
