// Where blobs came from: for each blob pulled or pushed, the repositories
// ("registry.example/team/app") known to hold it, so a push to another
// repository of the same registry can mount the blob instead of uploading
// it (POST …/blobs/uploads/?mount=&from=).
// One small file per blob, <content root>/sources/<hex>, one repository per
// line, appended with O_APPEND (concurrent pulls never lose each other's
// lines; a duplicate line is harmless and skipped when reading). Losing the
// directory only costs the mount optimisation.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/store/content_store.h"

namespace moor::image {

struct BlobSource {
  std::string domain;  // "localhost:5000", "docker.io"
  std::string path;    // "team/app"
};

class BlobSources {
 public:
  explicit BlobSources(const ContentStore& store) : dir_(store.root() + "/sources") {}

  Result<void> Record(const Digest& d, const BlobSource& source);
  // Known sources, oldest first, without duplicates; none when unknown.
  std::vector<BlobSource> Lookup(const Digest& d) const;

 private:
  std::string dir_;
};

}  // namespace moor::image
