// DecompressReader: a pull-style reader over a layer blob on an fd. It sniffs
// the compression from the first bytes, inflates gzip (concatenated members
// too) or zstd, or passes the bytes through, and hashes both streams while
// they flow: the compressed bytes give the blob digest, the uncompressed ones
// the diff_id. We decompress ourselves (instead of libarchive's filters) so
// that both digests come out of one pass over the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"

namespace moor::image {

class DecompressReader {
 public:
  // Called with every chunk of raw (compressed) bytes read from the fd, in
  // order: lets Recompress copy a blob verbatim while still computing its
  // diff_id.
  using RawTap = std::function<Result<void>(const unsigned char* data, size_t n)>;

  // max_ratio: uncompressed ÷ compressed bytes allowed once more than
  // ratio_floor uncompressed bytes came out (0 = unlimited).
  explicit DecompressReader(int fd, uint64_t max_ratio = 0, uint64_t ratio_floor = 64ULL << 20,
                            bool hash_blob = true);
  ~DecompressReader();
  DecompressReader(const DecompressReader&) = delete;
  DecompressReader& operator=(const DecompressReader&) = delete;

  void set_raw_tap(RawTap tap) { tap_ = std::move(tap); }

  // Reads the first bytes and detects the compression. Read() calls it on
  // first use; call it earlier to learn compression() before reading.
  Result<void> Start();
  // Up to n uncompressed bytes into buf; 0 at the end of the stream. A
  // truncated or corrupt stream, or one exceeding the ratio, is an error.
  Result<size_t> Read(void* buf, size_t n);
  // Reads and discards everything left, so the digests cover all bytes.
  Result<void> Drain();

  Compression compression() const { return compression_; }
  // After Start(): the fd held no bytes at all.
  bool empty_input() const { return started_ && eof_in_ && compressed_bytes_ == 0; }
  uint64_t compressed_bytes() const { return compressed_bytes_; }
  uint64_t uncompressed_bytes() const { return uncompressed_bytes_; }
  // Valid after Read() returned 0 (or after Drain()).
  Digest blob_digest() const { return blob_digest_; }
  Digest diff_id() const { return diff_id_; }

 private:
  struct Codec;
  // Refills in_ from the fd; false at EOF.
  Result<bool> Fill();
  Result<size_t> ReadGzip(unsigned char* out, size_t n);
  Result<size_t> ReadZstd(unsigned char* out, size_t n);
  Result<size_t> ReadPlain(unsigned char* out, size_t n);
  Result<void> CheckRatio() const;
  void Finish();

  int fd_;
  uint64_t max_ratio_;
  uint64_t ratio_floor_;
  RawTap tap_;
  bool started_ = false;
  bool eof_in_ = false;  // fd reached EOF
  bool done_ = false;    // stream fully decoded, digests final
  Compression compression_ = Compression::kNone;
  std::vector<unsigned char> in_;
  size_t in_pos_ = 0, in_len_ = 0;
  std::unique_ptr<Codec> codec_;
  Sha256 blob_hash_, diff_hash_;
  bool hash_blob_ = true;
  Digest blob_digest_, diff_id_;
  uint64_t compressed_bytes_ = 0, uncompressed_bytes_ = 0;
};

}  // namespace moor::image
