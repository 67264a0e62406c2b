#include "image/archive/compress.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <string>

namespace moor::image {

namespace {
constexpr size_t kOutBufSize = 256 * 1024;
}

Result<void> WriteAllFd(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return FailErrno("write layer");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

struct CompressWriter::Codec {
  z_stream zs{};
  bool zs_ready = false;
  ZSTD_CCtx* cctx = nullptr;
  ~Codec() {
    if (zs_ready) deflateEnd(&zs);
    if (cctx) ZSTD_freeCCtx(cctx);
  }
};

CompressWriter::CompressWriter(int out_fd, Compression compression, int level)
    : fd_(out_fd), compression_(compression), level_(level), codec_(new Codec), out_(kOutBufSize) {}

CompressWriter::~CompressWriter() = default;

Result<void> CompressWriter::Init() {
  if (compression_ == Compression::kGzip) {
    int level = level_ < 1 ? 1 : (level_ > 9 ? 9 : level_);
    // 16 + MAX_WBITS: gzip wrapper. zlib writes mtime 0 and no name, so the
    // same tar always gives the same blob.
    if (deflateInit2(&codec_->zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      return FailInvalid("gzip: cannot initialise deflate at level " + std::to_string(level_));
    codec_->zs_ready = true;
  } else if (compression_ == Compression::kZstd) {
    codec_->cctx = ZSTD_createCCtx();
    if (!codec_->cctx) return FailInvalid("zstd: cannot create a compression context");
    size_t r = ZSTD_CCtx_setParameter(codec_->cctx, ZSTD_c_compressionLevel, level_);
    if (ZSTD_isError(r)) return FailInvalid(std::string("zstd: level: ") + ZSTD_getErrorName(r));
    // A checksum lets `zstd -t` and other readers verify the frame.
    ZSTD_CCtx_setParameter(codec_->cctx, ZSTD_c_checksumFlag, 1);
  }
  return {};
}

Result<void> CompressWriter::Emit(const unsigned char* data, size_t n) {
  if (n == 0) return {};
  blob_hash_.Update(data, n);
  written_ += n;
  return WriteAllFd(fd_, data, n);
}

Result<void> CompressWriter::Pump(const unsigned char* data, size_t n, bool end) {
  switch (compression_) {
    case Compression::kNone:
      return Emit(data, n);
    case Compression::kGzip: {
      z_stream& zs = codec_->zs;
      zs.next_in = const_cast<unsigned char*>(data);
      zs.avail_in = static_cast<uInt>(n);
      for (;;) {
        zs.next_out = out_.data();
        zs.avail_out = static_cast<uInt>(out_.size());
        int rc = deflate(&zs, end ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) return FailInvalid("gzip: deflate failed");
        TRY(Emit(out_.data(), out_.size() - zs.avail_out));
        if (end ? rc == Z_STREAM_END : (zs.avail_in == 0 && zs.avail_out != 0)) break;
      }
      return {};
    }
    case Compression::kZstd: {
      ZSTD_inBuffer ib{data, n, 0};
      for (;;) {
        ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
        size_t r = ZSTD_compressStream2(codec_->cctx, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(r)) return FailInvalid(std::string("zstd: ") + ZSTD_getErrorName(r));
        TRY(Emit(out_.data(), ob.pos));
        if (end ? r == 0 : ib.pos == ib.size) break;
      }
      return {};
    }
  }
  return {};
}

Result<void> CompressWriter::Write(const void* data, size_t n) {
  if (n == 0) return {};
  diff_hash_.Update(data, n);
  // deflate takes a uInt length: feed big buffers in slices.
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    size_t k = n > (1u << 30) ? (1u << 30) : n;
    TRY(Pump(p, k, false));
    p += k;
    n -= k;
  }
  return {};
}

Result<void> CompressWriter::Finish() {
  if (finished_) return {};
  finished_ = true;
  TRY(Pump(nullptr, 0, true));
  blob_digest_ = blob_hash_.Finish();
  diff_id_ = diff_hash_.Finish();
  return {};
}

}  // namespace moor::image
