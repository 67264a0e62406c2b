// Internal to image/store: the file operations every blob write ends with.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::image::store_detail {

// write(2) until done (EINTR retried).
Result<void> WriteFully(int fd, const void* data, size_t n, std::string_view what);
Result<void> FsyncDir(const std::string& dir);
// Makes the written file `fd` (at `from`) the committed blob `to`: fsync,
// mode 0444, atomic rename, fsync of the blobs directory so the rename survives a crash.
Result<void> CommitBlobFile(int fd, const std::string& from, const std::string& to);
// The "wrong bytes" error every writer reports.
Error DigestMismatch(std::string_view want, std::string_view got);

}  // namespace moor::image::store_detail
