// Names (repository:tag) → image records, in one JSON file (names.json) under
// the store root, updated under an exclusive flock and replaced atomically.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::image {

struct ImageRecord {
  std::string name;         // full reference, "docker.io/library/busybox:latest"
  Digest manifest;          // the platform manifest this name runs
  std::string manifest_media_type;
  std::optional<Digest> index;  // the index it was chosen from (pull by tag of a list)
  Digest config;            // the image ID is the config digest, as in Docker
  std::string created_at;   // when the name was last set (RFC 3339, UTC)
  // Registry digests the image is known under ("docker.io/library/busybox@sha256:…").
  std::vector<std::string> repo_digests;
};

class ImageNames {
 public:
  static Result<ImageNames> Open(std::string root);

  Result<void> Set(const ImageRecord& r);  // insert or replace by name
  Result<std::optional<ImageRecord>> Get(const std::string& name) const;
  Result<std::vector<ImageRecord>> List() const;  // sorted by name
  Result<bool> Remove(const std::string& name);   // false: not there
  // Images whose config digest (ID) starts with the given hex prefix (≥ 4 chars).
  Result<std::vector<ImageRecord>> FindById(const std::string& id_prefix) const;

 private:
  explicit ImageNames(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace moor::image
