// Writes a layer tar (PAX format) from a directory, the way moor makes layers
// for builds, imports and saves. The directory is an overlayfs upper dir (or
// any tree): overlay whiteouts (char 0:0) become ".wh.NAME" entries and
// directories with trusted.overlay.opaque="y" get a ".wh..wh..opq" entry.
// Output is reproducible: entries sorted by name, uid/gid/mode/size/mtime/
// xattrs from the file, no atime/ctime, hardlinks recorded once (by inode),
// mtimes clamped to `clamp_mtime` when set (SOURCE_DATE_EPOCH style).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"

namespace moor::image {

struct LayerWriteOptions {
  Compression compression = Compression::kGzip;
  int level = 1;  // gzip/zstd level; 1 favours speed (layers are pushed once)
  std::optional<int64_t> clamp_mtime;
  // Paths (relative, no leading "/") left out, e.g. the build's mount points.
  std::vector<std::string> exclude;
};

struct LayerBlob {
  Digest digest;   // of the bytes written to out_fd (compressed)
  Digest diff_id;  // of the uncompressed tar
  int64_t size = 0;
};

// Writes the tar of everything beneath dir_fd to out_fd.
Result<LayerBlob> WriteLayer(int dir_fd, int out_fd, const LayerWriteOptions& opts);

// Re-compresses or passes through: reads a tar stream (any compression) from
// src_fd and writes it with `to` compression to out_fd (used by save/load and
// when a registry wants another compression).
Result<LayerBlob> Recompress(int src_fd, int out_fd, Compression to, int level = 1);

}  // namespace moor::image
