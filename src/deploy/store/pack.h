// Internal to deploy/store: the pack framing ("HEX64 SP SIZE \n BYTES",
// repeated) that carries blobs and tree objects in one request body.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::deploy::store_detail {

// What every refused upload ends with: the old release still serves.
inline constexpr std::string_view kDeployAgain = "nothing was switched, run moor deploy again";

struct PackEntry {
  image::Digest digest;
  std::string_view bytes;  // points into the pack
  size_t offset = 0;       // byte offset of the entry's header in the pack
};

// Reads the entry at *pos and advances *pos past it. A header that is not
// exactly 64 lowercase hex, one space, a decimal size without leading zeros
// and a newline → error naming the byte offset; fewer bytes than the size
// says → "truncated upload" error. REQUIRES: *pos < pack.size().
Result<PackEntry> NextPackEntry(std::string_view pack, size_t* pos);

// "blob sha256:A: content has digest sha256:B (corrupt upload); nothing was switched, …".
Error CorruptUpload(const image::Digest& want, const image::Digest& got);

}  // namespace moor::deploy::store_detail
