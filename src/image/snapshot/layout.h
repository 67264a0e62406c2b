// Internal helpers of the snapshotter: where things live under the root, the
// per-chain lock, meta.json, and tree removal that copes with read-only dirs.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/fd.h"
#include "image/core/digest.h"

namespace moor::image::snapshot_internal {

std::string SnapshotDir(const std::string& root, const Digest& chain_id);  // root/sha256/<hex>
std::string LockPath(const std::string& root, const Digest& chain_id);     // root/locks/<hex>

// Blocks until this process holds the exclusive flock on `path` (created when
// missing). flock belongs to the open file description, so two threads of one
// process exclude each other as well as two processes do.
Result<UniqueFd> LockFile(const std::string& path);
// Non-blocking variant: an invalid fd (no error) when someone else holds it.
Result<UniqueFd> TryLockDir(const std::string& dir);

struct Meta {
  Digest diff_id;
  Digest blob;  // empty for adopted snapshots (they have no blob yet)
  // Uncompressed bytes: of the tar stream for an unpacked layer, of the file
  // data for an adopted dir (no tar exists yet).
  uint64_t size = 0;
  std::string unpacked_at;  // RFC 3339 UTC
};
Result<void> WriteMeta(const std::string& dir, const Meta& m);
Result<Meta> ReadMeta(const std::string& dir);
std::string NowRfc3339();

// Sum of the sizes of the regular files below dir (not crossing mounts).
Result<uint64_t> TreeBytes(const std::string& dir);

// rm -rf that never crosses mount points and first gives the owner write and
// search permission on every directory (layers may contain 0555 dirs, which
// a non-root caller could not empty otherwise). Missing path is success.
Result<void> RemoveTree(const std::string& path);

}  // namespace moor::image::snapshot_internal
