// Helpers shared by load, save and import (transfer_archive.h): libarchive
// handles, scratch files next to the content store, small I/O helpers.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fd.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"
#include "image/store/content_store.h"

namespace moor::image::transfer {

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
using ArchiveEntry = std::unique_ptr<archive_entry, ArchiveEntryFree>;

// libarchive's last error text for `a` ("unknown error" when it has none).
std::string ArchiveErrorText(archive* a);

// An anonymous read-write file under the store's tmp/ (same filesystem as the
// blobs; O_TMPFILE, so nothing is left behind when the process dies).
Result<UniqueFd> OpenScratchFile(const ContentStore& store);

Result<void> WriteAll(int fd, const void* data, size_t n);
inline Result<void> WriteAll(int fd, std::string_view s) { return WriteAll(fd, s.data(), s.size()); }

// Compression of a stored blob, from its first bytes.
Result<Compression> BlobCompression(const ContentStore& store, const Digest& d);

// "2024-05-01T12:00:00Z" (now, UTC).
std::string NowRfc3339();

}  // namespace moor::image::transfer
