#include "image/archive/decompress.h"

#include <unistd.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "image/archive/extract.h"

namespace moor::image {

namespace {
constexpr size_t kInBufSize = 256 * 1024;
constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
constexpr unsigned char kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};
}  // namespace

Compression DetectCompression(const unsigned char* head, size_t n) {
  if (n >= sizeof kGzipMagic && std::memcmp(head, kGzipMagic, sizeof kGzipMagic) == 0)
    return Compression::kGzip;
  if (n >= sizeof kZstdMagic && std::memcmp(head, kZstdMagic, sizeof kZstdMagic) == 0)
    return Compression::kZstd;
  return Compression::kNone;
}

// gzip is inflated by ISA-L's igzip (zlib's inflate was the largest
// CPU cost of a pull), which also checks each member's CRC-32 and length.
struct DecompressReader::Codec {
  inflate_state gz{};
  bool member_ended = false;  // gzip: the current member is complete
  ZSTD_DCtx* dctx = nullptr;
  size_t zstd_hint = 0;  // last ZSTD_decompressStream result: 0 = at a frame boundary
  ~Codec() {
    if (dctx) ZSTD_freeDCtx(dctx);
  }
};

DecompressReader::DecompressReader(int fd, uint64_t max_ratio, uint64_t ratio_floor, bool hash_blob)
    : fd_(fd), max_ratio_(max_ratio), ratio_floor_(ratio_floor), in_(kInBufSize), codec_(new Codec) {
  hash_blob_ = hash_blob;
}

DecompressReader::~DecompressReader() = default;

Result<bool> DecompressReader::Fill() {
  if (eof_in_) return false;
  if (in_pos_ > 0) {
    std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
    in_len_ -= in_pos_;
    in_pos_ = 0;
  }
  if (in_len_ == in_.size()) return true;  // buffer already full
  ssize_t n;
  do {
    n = ::read(fd_, in_.data() + in_len_, in_.size() - in_len_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("read layer");
  if (n == 0) {
    eof_in_ = true;
    return false;
  }
  const unsigned char* chunk = in_.data() + in_len_;
  if (hash_blob_) blob_hash_.Update(chunk, static_cast<size_t>(n));
  if (tap_) TRY(tap_(chunk, static_cast<size_t>(n)));
  compressed_bytes_ += static_cast<uint64_t>(n);
  in_len_ += static_cast<size_t>(n);
  return true;
}

Result<void> DecompressReader::Start() {
  if (started_) return {};
  started_ = true;
  while (in_len_ < sizeof kZstdMagic && TRY(Fill())) {
  }
  compression_ = DetectCompression(in_.data(), in_len_);
  if (compression_ == Compression::kGzip) {
    isal_inflate_init(&codec_->gz);
    codec_->gz.crc_flag = ISAL_GZIP;  // parse the gzip wrapper, verify CRC-32 and size
  } else if (compression_ == Compression::kZstd) {
    codec_->dctx = ZSTD_createDCtx();
    if (!codec_->dctx) return FailInvalid("zstd: cannot create a decompression context");
  }
  return {};
}

namespace {
const char* IgzipError(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid back-reference distance";
    case ISAL_INVALID_WRAPPER: return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM: return "CRC-32 or length mismatch";
    case ISAL_NEED_DICT: return "preset dictionary required";
    default: return "inflate failed";
  }
}
}  // namespace

Result<size_t> DecompressReader::ReadGzip(unsigned char* out, size_t n) {
  inflate_state& gz = codec_->gz;
  const uint32_t want = static_cast<uint32_t>(std::min<size_t>(n, UINT32_MAX));
  gz.next_out = out;
  gz.avail_out = want;
  while (gz.avail_out == want) {
    if (codec_->member_ended) {
      // Another member may follow (pigz, concatenated files); anything else
      // after a complete member is corrupt input.
      if (in_pos_ == in_len_ && !TRY(Fill())) return size_t{0};
      if (in_[in_pos_] != kGzipMagic[0])
        return FailInvalid("gzip: unexpected data after the end of the stream");
      isal_inflate_reset(&gz);
      gz.crc_flag = ISAL_GZIP;
      gz.next_out = out;
      gz.avail_out = want;
      codec_->member_ended = false;
    }
    if (in_pos_ == in_len_ && !TRY(Fill())) return FailInvalid("gzip stream is truncated");
    gz.next_in = in_.data() + in_pos_;
    gz.avail_in = static_cast<uint32_t>(in_len_ - in_pos_);
    int rc = isal_inflate(&gz);
    in_pos_ = in_len_ - gz.avail_in;
    if (rc < 0 || rc == ISAL_NEED_DICT) {
      return FailInvalid(std::string("gzip stream is corrupt: ") + IgzipError(rc));
    }
    if (gz.block_state == ISAL_BLOCK_FINISH) codec_->member_ended = true;
  }
  return want - gz.avail_out;
}

Result<size_t> DecompressReader::ReadZstd(unsigned char* out, size_t n) {
  ZSTD_outBuffer ob{out, n, 0};
  while (ob.pos == 0) {
    if (in_pos_ == in_len_ && !TRY(Fill())) {
      if (codec_->zstd_hint != 0) return FailInvalid("zstd stream is truncated");
      return size_t{0};
    }
    ZSTD_inBuffer ib{in_.data() + in_pos_, in_len_ - in_pos_, 0};
    size_t r = ZSTD_decompressStream(codec_->dctx, &ob, &ib);
    in_pos_ += ib.pos;
    if (ZSTD_isError(r)) return FailInvalid(std::string("zstd stream is corrupt: ") + ZSTD_getErrorName(r));
    codec_->zstd_hint = r;
  }
  return ob.pos;
}

Result<size_t> DecompressReader::ReadPlain(unsigned char* out, size_t n) {
  if (in_pos_ == in_len_ && !TRY(Fill())) return size_t{0};
  size_t k = std::min(n, in_len_ - in_pos_);
  std::memcpy(out, in_.data() + in_pos_, k);
  in_pos_ += k;
  return k;
}

Result<void> DecompressReader::CheckRatio() const {
  if (max_ratio_ == 0 || uncompressed_bytes_ <= ratio_floor_) return {};
  if (uncompressed_bytes_ / max_ratio_ > compressed_bytes_) {
    return FailInvalid("layer expands more than " + std::to_string(max_ratio_) +
                       " times its compressed size (limit max_ratio); refusing a likely decompression bomb");
  }
  return {};
}

void DecompressReader::Finish() {
  if (done_) return;
  done_ = true;
  if (hash_blob_) blob_digest_ = blob_hash_.Finish();
  diff_id_ = diff_hash_.Finish();
}

Result<size_t> DecompressReader::Read(void* buf, size_t n) {
  TRY(Start());
  if (done_ || n == 0) return size_t{0};
  auto* out = static_cast<unsigned char*>(buf);
  size_t got = 0;
  switch (compression_) {
    case Compression::kGzip:
      got = TRY(ReadGzip(out, n));
      break;
    case Compression::kZstd:
      got = TRY(ReadZstd(out, n));
      break;
    case Compression::kNone:
      got = TRY(ReadPlain(out, n));
      break;
  }
  if (got == 0) {
    Finish();
    return size_t{0};
  }
  diff_hash_.Update(out, got);
  uncompressed_bytes_ += got;
  TRY(CheckRatio());
  return got;
}

Result<void> DecompressReader::Drain() {
  std::vector<unsigned char> sink(64 * 1024);
  while (TRY(Read(sink.data(), sink.size())) > 0) {
  }
  return {};
}

}  // namespace moor::image
