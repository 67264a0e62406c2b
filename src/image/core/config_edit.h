// Small edits of an image config shared by `moor build` and `moor image
// import -c`: both apply Dockerfile instructions to a ContainerConfig.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace moor::image {

// Sets KEY=VALUE in a "K=V" list, replacing an existing KEY in place.
inline void SetEnvVar(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  for (auto& e : env) {
    if (e.compare(0, key.size() + 1, key + "=") == 0) {
      e = key + "=" + value;
      return;
    }
  }
  env.push_back(key + "=" + value);
}

// Inserts into a sorted, duplicate-free list (exposed ports, volumes).
inline void InsertSorted(std::vector<std::string>& v, std::string item) {
  auto it = std::lower_bound(v.begin(), v.end(), item);
  if (it == v.end() || *it != item) v.insert(it, std::move(item));
}

}  // namespace moor::image
