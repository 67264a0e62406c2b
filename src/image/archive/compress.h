// CompressWriter: the write side of a layer blob. Takes the uncompressed tar
// stream, compresses it (gzip via zlib deflate, zstd via ZSTD_compressStream2,
// or none) into an fd, and hashes both streams on the way: the tar's sha256 is
// the diff_id, the written bytes' sha256 the blob digest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"

namespace moor::image {

class CompressWriter {
 public:
  CompressWriter(int out_fd, Compression compression, int level);
  ~CompressWriter();
  CompressWriter(const CompressWriter&) = delete;
  CompressWriter& operator=(const CompressWriter&) = delete;

  Result<void> Init();
  // Uncompressed bytes in.
  Result<void> Write(const void* data, size_t n);
  // Flushes the compressor's tail; the digests and size are final after it.
  Result<void> Finish();

  Digest blob_digest() const { return blob_digest_; }
  Digest diff_id() const { return diff_id_; }
  uint64_t written_bytes() const { return written_; }

 private:
  struct Codec;
  Result<void> Emit(const unsigned char* data, size_t n);
  Result<void> Pump(const unsigned char* data, size_t n, bool end);

  int fd_;
  Compression compression_;
  int level_;
  std::unique_ptr<Codec> codec_;
  std::vector<unsigned char> out_;
  Sha256 blob_hash_, diff_hash_;
  Digest blob_digest_, diff_id_;
  uint64_t written_ = 0;
  bool finished_ = false;
};

// Writes all of data to fd (retrying short writes and EINTR).
Result<void> WriteAllFd(int fd, const void* data, size_t n);

}  // namespace moor::image
