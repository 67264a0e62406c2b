// ExtractLayer: decompress (DecompressReader) → libarchive's tar reader (tar
// formats only, no filters) → one confined write per entry. Limits are
// checked before any byte of an entry is written.
#include "image/archive/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include "image/archive/compress.h"
#include "image/archive/decompress.h"
#include "image/archive/entry_path.h"
#include "image/archive/tar_entry.h"

namespace moor::image {

namespace {

constexpr size_t kReadChunk = 1024 * 1024;
constexpr uint64_t kProgressStep = 1 << 20;

// libarchive pulls through this; the reader's own error is kept so the
// caller reports it instead of libarchive's generic text.
struct ReadBridge {
  DecompressReader* reader = nullptr;
  std::vector<unsigned char> buf = std::vector<unsigned char>(kReadChunk);
  std::optional<Error> error;
};

la_ssize_t BridgeRead(struct archive* a, void* client, const void** out) {
  auto* bridge = static_cast<ReadBridge*>(client);
  auto n = bridge->reader->Read(bridge->buf.data(), bridge->buf.size());
  if (!n) {
    bridge->error = n.error();
    archive_set_error(a, n.error().errnum() ? n.error().errnum() : EINVAL, "%s", n.error().message().c_str());
    return -1;
  }
  *out = bridge->buf.data();
  return static_cast<la_ssize_t>(*n);
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

std::string Quote(const std::string& s) {
  return "\"" + s + "\"";
}

Result<TarEntry> ToTarEntry(struct archive_entry* ae, const ExtractLimits& limits) {
  TarEntry e;
  const char* name = archive_entry_pathname(ae);
  if (!name) return FailInvalid("layer has an entry without a readable name");
  e.raw_name = name;
  if (e.raw_name.size() > limits.max_path_bytes)
    return FailInvalid("entry name is longer than " + std::to_string(limits.max_path_bytes) +
                       " bytes (limit max_path_bytes): " + Quote(e.raw_name.substr(0, 64) + "…"));
  e.path = TRY(CleanEntryPath(e.raw_name));
  e.type = archive_entry_filetype(ae);
  e.perm = archive_entry_perm(ae) & 07777;
  int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
  if (uid < 0 || gid < 0 || uid > UINT32_MAX || gid > UINT32_MAX)
    return FailInvalid("entry " + Quote(e.raw_name) + " has an out-of-range uid/gid");
  e.uid = static_cast<uint32_t>(uid);
  e.gid = static_cast<uint32_t>(gid);
  e.has_mtime = archive_entry_mtime_is_set(ae);
  if (e.has_mtime) {
    e.mtime_sec = archive_entry_mtime(ae);
    e.mtime_nsec = archive_entry_mtime_nsec(ae);
    if (e.mtime_nsec < 0 || e.mtime_nsec > 999'999'999) e.mtime_nsec = 0;
  }
  e.size = archive_entry_size_is_set(ae) ? archive_entry_size(ae) : 0;
  if (const char* hl = archive_entry_hardlink(ae)) {
    e.hardlink = true;
    e.link = hl;
  } else if (e.type == S_IFLNK) {
    const char* target = archive_entry_symlink(ae);
    e.link = target ? target : "";
  }
  if (e.link.size() > limits.max_path_bytes)
    return FailInvalid("entry " + Quote(e.raw_name) + ": link target is longer than " +
                       std::to_string(limits.max_path_bytes) + " bytes (limit max_path_bytes)");
  e.rdev = archive_entry_rdev(ae);
  archive_entry_xattr_reset(ae);
  const char* xname;
  const void* xvalue;
  size_t xsize;
  while (archive_entry_xattr_next(ae, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
    if (!xname) continue;
    e.xattrs.emplace_back(xname, std::string(static_cast<const char*>(xvalue), xvalue ? xsize : 0));
  }
  return e;
}

class Extractor {
 public:
  Extractor(int src_fd, int root_fd, const ExtractOptions& opts)
      : opts_(opts), reader_(src_fd, opts.limits.max_ratio, 64ULL << 20, opts.hash_blob), state_{root_fd, opts, {}, {}, {}} {}

  Result<ExtractResult> Run() {
    TRY(reader_.Start());
    ExtractResult result;
    // Zero bytes: an empty layer (libarchive would call it unrecognised).
    if (!reader_.empty_input()) TRY(ReadEntries(result));
    TRY(FinishDirectories(state_));
    // The tar's end (zero blocks, padding) and anything libarchive did not
    // read still belongs to the blob: hash it all.
    TRY(reader_.Drain());
    Progress(true);
    result.blob_digest = reader_.blob_digest();
    result.diff_id = reader_.diff_id();
    result.compressed_bytes = reader_.compressed_bytes();
    result.uncompressed_bytes = reader_.uncompressed_bytes();
    result.compression = reader_.compression();
    return result;
  }

 private:
  Result<void> ReadEntries(ExtractResult& result) {
    std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
    if (!a) return FailInvalid("libarchive: out of memory");
    archive_read_support_format_tar(a.get());  // ustar, pax and GNU tar
    bridge_.reader = &reader_;
    if (archive_read_open(a.get(), &bridge_, nullptr, BridgeRead, nullptr) != ARCHIVE_OK)
      return ArchiveError(a.get());
    for (;;) {
      struct archive_entry* ae = nullptr;
      int r = archive_read_next_header(a.get(), &ae);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ArchiveError(a.get());
      if (++result.entries > opts_.limits.max_entries)
        return FailInvalid("layer has more than " + std::to_string(opts_.limits.max_entries) +
                           " entries (limit max_entries)");
      TarEntry e = TRY(ToTarEntry(ae, opts_.limits));
      TRY(CheckSize(e));
      if (!e.path.empty() && IsWhiteout(e.path)) {
        TRY(ApplyWhiteout(state_, e));
      } else {
        TRY(WriteEntry(state_, e, [&](int fd) { return CopyData(a.get(), e, fd); }));
      }
      Progress(false);
    }
    return {};
  }

  std::unexpected<Error> ArchiveError(struct archive* a) {
    if (bridge_.error) return Fail(*bridge_.error);
    const char* msg = archive_error_string(a);
    return FailInvalid(std::string("layer is not a valid tar: ") + (msg ? msg : "unknown libarchive error"));
  }

  Result<void> CheckSize(const TarEntry& e) {
    if (e.type != S_IFREG || e.hardlink) return {};
    if (e.size < 0) return FailInvalid("entry " + Quote(e.raw_name) + " has a negative size");
    uint64_t size = static_cast<uint64_t>(e.size);
    if (size > opts_.limits.max_entry_bytes)
      return FailInvalid("entry " + Quote(e.raw_name) + " is " + std::to_string(size) + " bytes, more than " +
                         std::to_string(opts_.limits.max_entry_bytes) + " (limit max_entry_bytes)");
    if (size > opts_.limits.max_total_bytes - std::min(total_, opts_.limits.max_total_bytes))
      return TotalExceeded();
    return {};
  }

  std::unexpected<Error> TotalExceeded() const {
    return FailInvalid("layer holds more than " + std::to_string(opts_.limits.max_total_bytes) +
                       " bytes of file data (limit max_total_bytes)");
  }

  // Streams the entry's data blocks (sparse files arrive as offset+block).
  Result<void> CopyData(struct archive* a, const TarEntry& e, int fd) {
    uint64_t end = 0;
    for (;;) {
      const void* block;
      size_t len;
      la_int64_t offset;
      int r = archive_read_data_block(a, &block, &len, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ArchiveError(a);
      if (offset < 0) return FailInvalid("negative data offset");
      uint64_t block_end = static_cast<uint64_t>(offset) + len;
      if (block_end > opts_.limits.max_entry_bytes)
        return FailInvalid("data runs past " + std::to_string(opts_.limits.max_entry_bytes) +
                           " bytes (limit max_entry_bytes)");
      total_ += len;
      if (total_ > opts_.limits.max_total_bytes) return TotalExceeded();
      const auto* p = static_cast<const unsigned char*>(block);
      uint64_t at = static_cast<uint64_t>(offset);
      while (len > 0) {
        ssize_t w = ::pwrite(fd, p, len, static_cast<off_t>(at));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return FailErrno("write file data");
        p += w;
        at += static_cast<uint64_t>(w);
        len -= static_cast<size_t>(w);
      }
      end = std::max(end, block_end);
    }
    // A sparse file may end in a hole.
    if (static_cast<uint64_t>(e.size) > end && ::ftruncate(fd, e.size) != 0)
      return FailErrno("truncate file");
    return {};
  }

  void Progress(bool final) {
    if (!opts_.progress) return;
    uint64_t now = reader_.compressed_bytes();
    if (final || now - last_progress_ >= kProgressStep) {
      last_progress_ = now;
      opts_.progress(now);
    }
  }

  const ExtractOptions& opts_;
  DecompressReader reader_;
  ExtractState state_;
  ReadBridge bridge_;
  uint64_t total_ = 0;
  uint64_t last_progress_ = 0;
};

}  // namespace

Result<ExtractResult> ExtractLayer(int src_fd, int root_dirfd, const ExtractOptions& opts) {
  Extractor x(src_fd, root_dirfd, opts);
  return x.Run();
}

}  // namespace moor::image
