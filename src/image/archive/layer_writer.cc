// WriteLayer: a reproducible PAX tar of a directory tree (an overlay upper dir
// or any tree), compressed by CompressWriter. The walk uses only *at() calls
// on directory fds and never follows a symlink.
#include "image/archive/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "image/archive/compress.h"
#include "image/archive/decompress.h"

namespace moor::image {

namespace {

constexpr size_t kCopyChunk = 256 * 1024;
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryFree>;

struct WriteBridge {
  CompressWriter* out = nullptr;
  std::optional<Error> error;
};

la_ssize_t BridgeWrite(struct archive* a, void* client, const void* buf, size_t n) {
  auto* bridge = static_cast<WriteBridge*>(client);
  auto r = bridge->out->Write(buf, n);
  if (!r) {
    bridge->error = r.error();
    archive_set_error(a, r.error().errnum() ? r.error().errnum() : EIO, "%s", r.error().message().c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// All xattrs of an open file, sorted by name (listxattr order is arbitrary).
Result<Xattrs> ReadXattrs(int fd) {
  Xattrs out;
  ssize_t len = ::flistxattr(fd, nullptr, 0);
  if (len < 0) {
    if (errno == ENOTSUP) return out;
    return FailErrno("list xattrs");
  }
  std::string names(static_cast<size_t>(len), '\0');
  len = ::flistxattr(fd, names.data(), names.size());
  if (len < 0) return FailErrno("list xattrs");
  names.resize(static_cast<size_t>(len));
  for (size_t i = 0; i < names.size();) {
    std::string name = names.c_str() + i;
    i += name.size() + 1;
    if (name.empty()) continue;
    ssize_t vlen = ::fgetxattr(fd, name.c_str(), nullptr, 0);
    if (vlen < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      return FailErrno("read xattr " + name);
    }
    std::string value(static_cast<size_t>(vlen), '\0');
    vlen = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
    if (vlen < 0) return FailErrno("read xattr " + name);
    value.resize(static_cast<size_t>(vlen));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> SortedNames(int dirfd) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno("open directory");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return FailErrno("read directory");
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string NormalizeExclude(std::string p) {
  size_t start = p.find_first_not_of('/');
  p = start == std::string::npos ? "" : p.substr(start);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

class TreeWriter {
 public:
  TreeWriter(struct archive* a, WriteBridge* bridge, const LayerWriteOptions& opts)
      : a_(a), bridge_(bridge), opts_(opts) {
    for (const auto& p : opts.exclude) exclude_.insert(NormalizeExclude(p));
  }

  Result<void> WalkDir(int dirfd, const std::string& prefix) {
    auto names = TRY_CTX(SortedNames(dirfd), Where(prefix.empty() ? "." : prefix));
    for (const auto& name : names) {
      std::string rel = prefix + name;
      if (exclude_.count(rel)) continue;
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // vanished during the walk
        return FailErrno("stat " + Where(rel));
      }
      TRY(WriteOne(dirfd, name, rel, st));
    }
    return {};
  }

 private:
  static std::string Where(const std::string& rel) { return "\"" + rel + "\""; }

  EntryPtr Header(const std::string& path, const struct stat& st, mode_t type) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    // Whole seconds, like Docker's layers: a sub-second mtime would force a
    // PAX header onto nearly every entry.
    int64_t mtime = st.st_mtim.tv_sec;
    if (opts_.clamp_mtime && mtime > *opts_.clamp_mtime) mtime = *opts_.clamp_mtime;
    archive_entry_set_mtime(e.get(), mtime, 0);
    archive_entry_set_size(e.get(), 0);
    return e;
  }

  static void AddXattrs(struct archive_entry* e, const Xattrs& xattrs) {
    for (const auto& [name, value] : xattrs) {
      if (name.rfind(kOverlayXattrPrefix, 0) == 0) continue;  // overlay's bookkeeping, not content
      archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    }
  }

  Result<void> Emit(struct archive_entry* e, const std::string& rel) {
    int r = archive_write_header(a_, e);
    if (r < ARCHIVE_WARN) return Failure("write header of " + Where(rel));
    return {};
  }

  std::unexpected<Error> Failure(const std::string& what) {
    if (bridge_->error) return Fail(Error(*bridge_->error).Wrap(what));
    const char* msg = archive_error_string(a_);
    return FailInvalid(what + ": " + (msg ? msg : "libarchive error"));
  }

  Result<void> EmitEmptyFile(const std::string& path, const struct stat& st) {
    EntryPtr e = Header(path, st, AE_IFREG);
    return Emit(e.get(), path);
  }

  Result<void> WriteOne(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        return WriteDir(dirfd, name, rel, st);
      case S_IFREG:
        return WriteFile(dirfd, name, rel, st);
      case S_IFLNK:
        return WriteSymlink(dirfd, name, rel, st);
      case S_IFCHR:
        if (major(st.st_rdev) == 0 && minor(st.st_rdev) == 0) {
          // An overlay whiteout: the tar form is an empty ".wh.NAME" file.
          std::string dir = rel.substr(0, rel.size() - name.size());
          struct stat wh = st;
          wh.st_mode = S_IFREG;
          return EmitEmptyFile(dir + ".wh." + name, wh);
        }
        [[fallthrough]];
      case S_IFBLK:
      case S_IFIFO: {
        EntryPtr e = Header(rel, st, st.st_mode & S_IFMT);
        if (!S_ISFIFO(st.st_mode)) archive_entry_set_rdev(e.get(), st.st_rdev);
        return Emit(e.get(), rel);
      }
      default:
        return {};  // sockets cannot be stored in a tar; they are runtime state anyway
    }
  }

  Result<void> WriteDir(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return FailErrno("open directory " + Where(rel));
    Xattrs xattrs = TRY_CTX(ReadXattrs(fd.get()), Where(rel));
    EntryPtr e = Header(rel, st, AE_IFDIR);
    AddXattrs(e.get(), xattrs);
    TRY(Emit(e.get(), rel));
    bool opaque = std::any_of(xattrs.begin(), xattrs.end(), [](const auto& kv) {
      return kv.first == "trusted.overlay.opaque" && kv.second == "y";
    });
    // Right after its directory, so a reader applies it before the children.
    if (opaque) TRY(EmitEmptyFile(rel + "/.wh..wh..opq", st));
    return WalkDir(fd.get(), rel + "/");
  }

  Result<void> WriteFile(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    auto key = std::make_pair(st.st_dev, st.st_ino);
    if (st.st_nlink > 1) {
      auto it = links_.find(key);
      if (it != links_.end()) {
        EntryPtr e = Header(rel, st, AE_IFREG);
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        return Emit(e.get(), rel);
      }
      links_.emplace(key, rel);
    }
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) return FailErrno("open " + Where(rel));
    struct stat now;
    if (::fstat(fd.get(), &now) != 0) return FailErrno("stat " + Where(rel));
    if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino)
      return FailInvalid(Where(rel) + " changed during the walk");
    Xattrs xattrs = TRY_CTX(ReadXattrs(fd.get()), Where(rel));
    EntryPtr e = Header(rel, now, AE_IFREG);
    archive_entry_set_size(e.get(), now.st_size);
    AddXattrs(e.get(), xattrs);
    TRY(Emit(e.get(), rel));
    // Exactly st_size bytes: the header is already written.
    std::vector<char> buf(kCopyChunk);
    int64_t left = now.st_size;
    while (left > 0) {
      ssize_t n = ::read(fd.get(), buf.data(), static_cast<size_t>(std::min<int64_t>(left, kCopyChunk)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("read " + Where(rel));
      if (n == 0) return FailInvalid(Where(rel) + " shrank while it was being written to the layer");
      if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0)
        return Failure("write " + Where(rel));
      left -= n;
    }
    return {};
  }

  Result<void> WriteSymlink(int dirfd, const std::string& name, const std::string& rel,
                            const struct stat& st) {
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return FailErrno("readlink " + Where(rel));
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      target.resize(target.size() * 2);
    }
    EntryPtr e = Header(rel, st, AE_IFLNK);
    archive_entry_set_symlink(e.get(), target.c_str());
    return Emit(e.get(), rel);
  }

  struct archive* a_;
  WriteBridge* bridge_;
  const LayerWriteOptions& opts_;
  std::set<std::string> exclude_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

Result<LayerBlob> WriteLayer(int dir_fd, int out_fd, const LayerWriteOptions& opts) {
  CompressWriter out(out_fd, opts.compression, opts.level);
  TRY(out.Init());
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  if (!a) return FailInvalid("libarchive: out of memory");
  WriteBridge bridge;
  bridge.out = &out;
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK ||
      // SCHILY.xattr only: what Docker and GNU tar read.
      archive_write_set_format_option(a.get(), "pax", "xattrheader", "SCHILY") < ARCHIVE_WARN ||
      // No padding to 10 KiB records: the tar ends after its two zero blocks.
      archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK ||
      archive_write_open2(a.get(), &bridge, nullptr, BridgeWrite, nullptr, nullptr) != ARCHIVE_OK) {
    const char* msg = archive_error_string(a.get());
    return FailInvalid(std::string("layer writer setup: ") + (msg ? msg : "libarchive error"));
  }
  TreeWriter walker(a.get(), &bridge, opts);
  TRY_CTX(walker.WalkDir(dir_fd, ""), "write layer");
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (bridge.error) return Fail(Error(*bridge.error).Wrap("write layer"));
    return FailInvalid(std::string("write layer: ") + archive_error_string(a.get()));
  }
  TRY(out.Finish());
  return LayerBlob{out.blob_digest(), out.diff_id(), static_cast<int64_t>(out.written_bytes())};
}

Result<LayerBlob> Recompress(int src_fd, int out_fd, Compression to, int level) {
  DecompressReader reader(src_fd);
  // Raw bytes are held back until the compression is known: when it already
  // matches, the blob is copied verbatim (its digest does not change).
  enum class Raw { kPending, kCopy, kDrop } raw = Raw::kPending;
  std::string pending;
  reader.set_raw_tap([&](const unsigned char* p, size_t n) -> Result<void> {
    if (raw == Raw::kPending) pending.append(reinterpret_cast<const char*>(p), n);
    if (raw == Raw::kCopy) return WriteAllFd(out_fd, p, n);
    return {};
  });
  TRY(reader.Start());
  if (reader.compression() == to) {
    raw = Raw::kCopy;
    TRY(WriteAllFd(out_fd, pending.data(), pending.size()));
    TRY(reader.Drain());
    return LayerBlob{reader.blob_digest(), reader.diff_id(), static_cast<int64_t>(reader.compressed_bytes())};
  }
  raw = Raw::kDrop;
  pending.clear();
  CompressWriter out(out_fd, to, level);
  TRY(out.Init());
  std::vector<unsigned char> buf(kCopyChunk);
  for (;;) {
    size_t n = TRY(reader.Read(buf.data(), buf.size()));
    if (n == 0) break;
    TRY(out.Write(buf.data(), n));
  }
  TRY(out.Finish());
  return LayerBlob{out.blob_digest(), out.diff_id(), static_cast<int64_t>(out.written_bytes())};
}

}  // namespace moor::image
