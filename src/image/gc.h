// Garbage collection ("moor image prune"): everything reachable from a name
// (index → manifests → config + layers, and the snapshots of each image's
// chain IDs) is kept, plus what `keep` names (the engine passes the images of
// existing containers); the rest — unreferenced blobs, snapshots, abandoned
// ingests and tmp dirs — is removed. With all=false only dangling images
// (no name) go, which with this store means unreferenced content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "image/image_service.h"

namespace moor::image {

struct GcReport {
  size_t blobs_removed = 0;
  size_t snapshots_removed = 0;
  uint64_t bytes_freed = 0;
};

// <root>/gc.lock. CollectGarbage holds it exclusively from marking to the end
// of the sweep. NOTE for Pull, Load, Import and Build: hold it SHARED from the
// first blob written until the name (or build-cache entry) that references
// the new content is recorded; otherwise a concurrent gc can delete blobs
// that nothing names yet. Shared holders do not block each other.
class GcLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Blocks until the lock is granted.
  static Result<GcLock> Acquire(const std::string& root, Mode mode);

 private:
  explicit GcLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // flock is released when it closes
};

// Marks (under GcLock kExclusive): every ImageRecord's manifest, config and
// layers, its index and the index's other manifests that are stored (with
// their configs and layers); keep_manifests likewise; every "sha256:<hex>"
// found in <root>/build-cache/*.json (as a blob and as a snapshot); and the
// snapshots of each kept config's chain IDs. Sweeps everything else, then
// abandoned ingests and unpack leftovers. A manifest that cannot be read or
// parsed stops gc before anything is deleted.
Result<GcReport> CollectGarbage(ImageService& svc, const std::vector<Digest>& keep_manifests = {});

}  // namespace moor::image
