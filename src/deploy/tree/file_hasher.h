// Hashes the files a scan could not take from its cache, on several threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "deploy/tree/hash_cache.h"
#include "image/core/digest.h"

namespace moor::deploy {

struct HashJob {
  std::string rel;  // path relative to the directory open at root_fd
  FileKey key;      // what statx said during the walk
  // Results:
  image::Digest digest{};
  int64_t bytes = 0;     // bytes read (the blob's size)
  bool changed = false;  // the file changed while it was read: not to be trusted next time
};

// Fills each job's results, reading with `threads` threads (at least one).
// `dir` names the directory in errors. The first failure (in job order) is
// returned, one line naming the file and what to do.
Result<void> HashFiles(int root_fd, const std::string& dir, std::vector<HashJob>& jobs, int threads);

}  // namespace moor::deploy
