// Secure layer extraction: a (gzip/zstd/uncompressed, detected by magic) tar
// stream unpacked into a directory, as an overlayfs lower layer.
//
// Safety (the rules every entry obeys):
// - Every path is resolved beneath root_dirfd (openat2 RESOLVE_IN_ROOT |
//   RESOLVE_NO_MAGICLINKS for parents); "..", absolute names and symlinked
//   parents can never reach outside the root. Entries whose cleaned name
//   escapes the root ("../x") are rejected with an error naming the entry.
// - The final component is never followed: files are created with
//   O_CREAT|O_EXCL|O_NOFOLLOW (an existing non-directory is unlinked first),
//   and metadata goes through fchownat/fchmodat/utimensat with
//   AT_SYMLINK_NOFOLLOW or on the opened fd, so a symlink in the layer never
//   redirects a chmod/chown/utimes.
// - Hardlink targets are resolved inside the root too and must be regular
//   files already extracted from this layer or lower in the same directory.
// - Device nodes only when allow_devices; setuid/setgid bits kept as in tar.
// - Limits: total uncompressed bytes, entry count, per-entry size, path
//   length, and the ratio of uncompressed to compressed bytes (bombs) —
//   exceeding any of them fails naming the limit.
// - Whiteouts: ".wh.NAME" becomes an overlay whiteout (char device 0:0 named
//   NAME), ".wh..wh..opq" sets trusted.overlay.opaque="y" on its directory
//   (overlay mode, the default); in flatten mode they delete NAME / the
//   directory's existing contents instead (for export and for tools without
//   overlay). Whiteouts whose target escapes the root are rejected.
// - xattrs (SCHILY.xattr / LIBARCHIVE.xattr), ownership (numeric uid/gid),
//   modes, mtimes, symlinks, fifos.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"

namespace moor::image {

struct ExtractLimits {
  uint64_t max_total_bytes = 64ULL << 30;  // uncompressed file data in one layer
  uint64_t max_entries = 4'000'000;
  uint64_t max_entry_bytes = 32ULL << 30;
  size_t max_path_bytes = 4096;
  // Uncompressed ÷ compressed bytes; checked once past 64 MiB uncompressed.
  uint64_t max_ratio = 1000;
};

enum class WhiteoutMode { kOverlay, kFlatten };

struct ExtractOptions {
  ExtractLimits limits;
  WhiteoutMode whiteouts = WhiteoutMode::kOverlay;
  bool allow_devices = true;
  bool preserve_owner = true;  // false: files belong to the extracting user
  // COPY --chown / rootless remap: every entry gets this uid/gid.
  std::optional<std::pair<uint32_t, uint32_t>> force_owner;
  // false: the caller verified the blob's digest moments ago (a pull that just
  // committed it), so the compressed bytes are not hashed again and
  // ExtractResult::blob_digest stays empty. The diff_id is always computed.
  bool hash_blob = true;
  // Called now and then with compressed bytes consumed so far.
  std::function<void(uint64_t)> progress;
};

struct ExtractResult {
  Digest blob_digest;  // sha256 of the bytes read (compressed): verify-on-use; empty without hash_blob
  Digest diff_id;      // sha256 of the uncompressed tar
  uint64_t compressed_bytes = 0;
  uint64_t uncompressed_bytes = 0;
  uint64_t entries = 0;
  Compression compression = Compression::kNone;
};

// Reads the layer from src_fd until EOF and extracts it beneath root_dirfd.
// On error the caller removes the (partial) directory; nothing outside it was
// touched.
Result<ExtractResult> ExtractLayer(int src_fd, int root_dirfd, const ExtractOptions& opts);

// Sniffs the first bytes: 1f 8b → gzip, 28 b5 2f fd → zstd, else none.
Compression DetectCompression(const unsigned char* head, size_t n);

}  // namespace moor::image
