// The build cache: step key → what the step produced, as small JSON files
// under <store root>/build-cache/<key hex>.json.
//
// A key is sha256 over: the previous step's key (the FROM step starts from
// the base image ID, "scratch" or the source stage's key), the instruction
// after expansion, the config the step runs with (env, user, workdir, shell),
// the content digest of COPY/ADD inputs and the build args RUN sees. So a
// change anywhere invalidates that step and every later one of the stage.
// An entry is used only when its layer blob is still in the content store and
// its snapshot is present; otherwise the step runs again.
#pragma once

#include <optional>
#include <string>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"

namespace moor::build {

struct CacheEntry {
  std::string created;  // the step's history timestamp (kept so rebuilds are identical)
  bool has_layer = false;
  image::Descriptor layer;  // media type, digest, size
  image::Digest diff_id;
};

class BuildCache {
 public:
  explicit BuildCache(std::string dir) : dir_(std::move(dir)) {}
  // nullopt when absent or unreadable (a broken entry is a miss, not an error).
  std::optional<CacheEntry> Get(const image::Digest& key) const;
  Result<void> Put(const image::Digest& key, const CacheEntry& e) const;

 private:
  std::string dir_;
};

// Chains a key: sha256(parent "\n" part…) with each part length-prefixed.
class KeyBuilder {
 public:
  explicit KeyBuilder(const image::Digest& parent);
  KeyBuilder& Add(std::string_view part);
  image::Digest Finish();

 private:
  image::Sha256 h_;
};

}  // namespace moor::build
