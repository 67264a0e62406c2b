// The client side of a deploy: walks a code directory (with .moorignore, else
// .dockerignore, rules; .git excluded unless "!.git"), hashes what changed
// since the last scan (a cache keyed by dev, inode, size, mtime and ctime, git's
// racy-entry rule) and builds the release's trees (deploy/tree.h).
// docs/design/deploy.md §1.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "deploy/tree/tree.h"
#include "image/core/digest.h"

namespace moor::deploy {

struct ScanOptions {
  std::string dir;         // the code directory (absolute or relative)
  std::string cache_path;  // "" = DefaultCachePath(dir, ignore rules); "-" = no cache
  int threads = 2;         // hashing threads for cache misses
};

// Where a blob's bytes are on the client.
struct BlobSource {
  std::string path;     // absolute path of a file ("" for a symlink's target)
  std::string inline_;  // a symlink's target text (the blob's bytes)
  int64_t size = 0;
};

struct ScannedTree {
  image::Digest digest;
  std::string bytes;  // canonical encoding
  std::string path;   // relative directory path ("" = the root)
};

struct ScanResult {
  image::Digest root;
  std::vector<ScannedTree> trees;                      // children before parents; root last; one per digest
  std::unordered_map<std::string, BlobSource> blobs;   // by digest hex: every file and symlink blob
  int64_t files = 0, dirs = 0, symlinks = 0;
  int64_t hashed = 0;        // files read and hashed this scan
  int64_t cache_hits = 0;    // files whose digest came from the cache
  int64_t bytes_hashed = 0;
  int64_t total_bytes = 0;   // sum of file sizes
  std::vector<std::string> warnings;  // skipped special files, symlinks leaving the tree
};

Result<ScanResult> Scan(const ScanOptions& o);

// $XDG_CACHE_HOME/moor/deploy/<sha256(realpath ‖ ignore rules)>.idx (HOME/.cache
// when XDG_CACHE_HOME is unset; /var/cache/moor/deploy for root without HOME).
Result<std::string> DefaultCachePath(const std::string& dir);

}  // namespace moor::deploy
