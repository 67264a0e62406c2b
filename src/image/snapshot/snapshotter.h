// Unpacked layers ("snapshots") shared between images, and overlayfs rootfs
// assembly.
//
// Layout under root:
//   sha256/<chain-id hex>/fs      the unpacked layer (overlay whiteouts inside)
//   sha256/<chain-id hex>/meta.json  {"diff_id", "blob", "size", "unpacked_at"}
//                                 (size: uncompressed tar bytes; file bytes if adopted)
//   tmp/<random>/                 extractions in progress (removed on failure
//                                 and by Clean()); a finished one is renamed
//                                 into place, so a snapshot is complete or absent
//   locks/<chain-id hex>          flock: two pulls unpack a layer once
// A snapshot is keyed by its chain ID, so the same layer on top of the same
// parents is unpacked once however many images use it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/archive/extract.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"
#include "image/store/content_store.h"

namespace moor::image {

class Snapshotter {
 public:
  static Result<Snapshotter> Open(std::string root);
  const std::string& root() const { return root_; }

  bool Has(const Digest& chain_id) const;
  std::string Path(const Digest& chain_id) const;  // …/sha256/<hex>/fs

  // Makes sure every layer of the image is unpacked; returns the snapshot
  // dirs, lowest layer first. Layers are taken from the store (each blob's
  // digest is checked while it is extracted, and its diff_id against the
  // config); a mismatch removes the partial snapshot and fails naming the
  // layer. `progress(i, bytes)` reports layer i's compressed bytes consumed
  // (only for layers extracted by this call); layers are extracted in
  // parallel, so `progress` (and opts.progress) must be thread-safe. Two
  // concurrent Unpacks of the same layer extract it once: the second waits on
  // locks/<chain id>.
  Result<std::vector<std::string>> Unpack(const ContentStore& store, const Manifest& manifest,
                                          const ImageConfig& config, const ExtractOptions& opts = {},
                                          const std::function<void(size_t, uint64_t)>& progress = {});

  // Unpacks layer `index` of the image alone (its chain id comes from the
  // config's diff_ids, so lower layers need not be unpacked yet) and returns
  // its snapshot dir; same checks and locking as Unpack. Lets a pull unpack a
  // layer as soon as its blob is in the store.
  Result<std::string> UnpackLayer(const ContentStore& store, const Manifest& manifest,
                                  const ImageConfig& config, size_t index, const ExtractOptions& opts = {});

  // Adopts a directory that already holds a layer in overlay form (a build
  // step's upper dir) as the snapshot `chain_id` (rename; same filesystem).
  Result<std::string> Adopt(const std::string& dir, const Digest& chain_id, const Digest& diff_id);

  // Complete snapshots only, sorted by chain id.
  std::vector<Digest> List() const;
  // Absent is success. Does not know about mounts: the caller (GC) makes
  // sure no container's overlay uses the snapshot.
  Result<void> Remove(const Digest& chain_id);
  // Removes tmp/ leftovers of interrupted unpacks. Unpacks in progress (in
  // any process) hold a flock on their tmp dir and are skipped; MakeTemp dirs
  // are not locked, so call Clean when none is in use (start-up, GC lock).
  Result<void> Clean();

  // A fresh scratch dir under root/tmp (same filesystem as the snapshots).
  Result<std::string> MakeTemp() const;

 private:
  explicit Snapshotter(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// Mounts overlayfs at `target`: `lowers` lowest first (the last one is the
// top), with upper and work dirs created under `rw_dir` (rw_dir/upper,
// rw_dir/work). With no lowers (FROM scratch) an empty lower is used. With
// read_only, no upper: a read-only view. Uses fsopen/fsconfig ("lowerdir+",
// one layer per call) when the kernel has it, so the number of layers is not
// bounded by the mount-option page; falls back to the lowerdir= option.
Result<void> MountOverlay(const std::vector<std::string>& lowers, const std::string& rw_dir,
                          const std::string& target, bool read_only = false);
// Lazy-detaches and removes nothing else. Nothing mounted at target (EINVAL)
// is success, so cleanup paths may call it unconditionally.
Result<void> UnmountOverlay(const std::string& target);

}  // namespace moor::image
