// The content-addressed blob store (blobs by sha256, verified on write and on
// use) with resumable, lock-protected ingests.
//
// Layout under root:
//   blobs/sha256/<hex>        committed blobs, mode 0444, never modified
//   ingest/<hex>/data         a partial download of <hex> (kept for resume)
//   ingest/<hex>/lock         flock: one writer per digest across processes;
//                             a second concurrent pull of the same blob waits,
//                             then finds the blob committed
//   tmp/                      scratch for writes whose digest is unknown yet
// Commit = fsync + rename into blobs/ (atomic), after the size and the digest
// of the written bytes were checked. A digest mismatch discards the partial
// data and fails with a message naming both digests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "image/core/digest.h"

namespace moor::image {

class Ingest;

class ContentStore {
 public:
  // Creates the directories when missing.
  static Result<ContentStore> Open(std::string root);

  const std::string& root() const { return root_; }
  std::string BlobPath(const Digest& d) const;

  bool Has(const Digest& d) const;
  // Size of a committed blob; error when absent.
  Result<int64_t> Size(const Digest& d) const;
  // Opens a committed blob read-only (O_NOFOLLOW).
  Result<UniqueFd> Open(const Digest& d) const;
  // Reads a whole (small) blob and re-verifies its digest; blobs larger than
  // max_bytes are refused (manifests and configs are small).
  Result<std::string> ReadBlob(const Digest& d, int64_t max_bytes = 32 << 20) const;
  // Re-hashes a committed blob; a mismatch (on-disk corruption) removes the
  // blob and fails, so the next pull fetches it again. `hint` ends the message
  // (what the user does next; another store's caller names its own command).
  Result<void> Verify(const Digest& d, std::string_view hint = "pull the image again") const;

  // Writes bytes as a blob; with `expected`, a different digest is an error.
  Result<Digest> WriteBlob(std::string_view data, std::optional<Digest> expected = {});
  // Writes the bytes of blob `expected` without any fsync (SyncBlobs makes a
  // batch durable later): an unnamed file (O_TMPFILE) in blobs/, written,
  // mode 0444, then linked under its name (a temp name + link where O_TMPFILE
  // is unsupported). The digest is checked before the bytes get a name, so no
  // ingest lock is needed; a mismatch leaves nothing. Returns true when the
  // blob was added, false when it was already there.
  Result<bool> WriteBlobUnsynced(std::string_view data, const Digest& expected);
  // Makes committed blobs durable: up to 64 blobs, an fsync of each and of
  // blobs/; more, one syncfs of the store's filesystem. An absent blob is an
  // error naming it.
  Result<void> SyncBlobs(std::span<const Digest> digests);
  // Streams a file's bytes into the store (hashing while copying).
  Result<Digest> WriteBlobFromFd(int fd, std::optional<Digest> expected = {});

  // Starts (or resumes) writing the blob `expected` of `expected_size` bytes
  // (-1: unknown). Blocks while another process or thread writes the same
  // digest. When the blob is already committed, the returned Ingest has
  // AlreadyPresent() == true and needs no writes.
  Result<std::unique_ptr<Ingest>> BeginIngest(const Digest& expected, int64_t expected_size);

  std::vector<Digest> ListBlobs() const;
  // Removes a committed blob (garbage collection); absent is not an error.
  Result<void> Delete(const Digest& d);
  // Removes ingests no process holds (abandoned partial downloads).
  Result<void> CleanIngests();

 private:
  explicit ContentStore(std::string root) : root_(std::move(root)) {}
  // WriteBlobUnsynced where O_TMPFILE is unsupported: tmp/ file + link.
  Result<bool> WriteBlobViaTemp(std::string_view data, const std::string& path);
  std::string root_;
};

class Ingest {
 public:
  virtual ~Ingest() = default;  // releases the lock, keeps partial data
  virtual bool AlreadyPresent() const = 0;
  // Bytes already written (a resumed download continues from here).
  virtual int64_t Offset() const = 0;
  virtual Result<void> Write(const void* data, size_t n) = 0;
  // Drops partial data (the server ignored a Range request).
  virtual Result<void> Reset() = 0;
  // Checks size and digest, fsyncs and renames into blobs/.
  virtual Result<void> Commit() = 0;
};

}  // namespace moor::image
