#include "cli/tar_io.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace moor::cli {

namespace {

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadCloser>;
using WriteArchive = std::unique_ptr<archive, WriteCloser>;

std::string ArchiveError(archive* a, const std::string& what) {
  const char* e = archive_error_string(a);
  return what + ": " + (e ? e : "archive error");
}

la_ssize_t AppendToString(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// "a/b/c" with its first component replaced by `top`.
std::string Rename(const std::string& path, const std::string& top) {
  std::string p = path;
  while (p.starts_with("./")) p.erase(0, 2);
  auto slash = p.find('/');
  if (slash == std::string::npos) return top;
  std::string rest = p.substr(slash);
  return rest == "/" ? top : top + rest;
}

}  // namespace

Result<std::string> PackPath(const std::string& src, const std::string& top_name) {
  std::string out;
  WriteArchive w(archive_write_new());
  ReadArchive disk(archive_read_disk_new());
  if (!w || !disk) return FailInvalid("cannot allocate an archive");
  archive_write_set_format_pax_restricted(w.get());
  if (archive_write_open(w.get(), &out, nullptr, AppendToString, nullptr) != ARCHIVE_OK) {
    return FailInvalid(ArchiveError(w.get(), "tar"));
  }
  archive_read_disk_set_standard_lookup(disk.get());
  archive_read_disk_set_symlink_physical(disk.get());
  if (archive_read_disk_open(disk.get(), src.c_str()) != ARCHIVE_OK) {
    return FailInvalid(ArchiveError(disk.get(), "read " + src));
  }
  std::string base = src;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  for (;;) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    int r = archive_read_next_header2(disk.get(), e.get());
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return FailInvalid(ArchiveError(disk.get(), "read " + src));
    archive_read_disk_descend(disk.get());
    std::string path = archive_entry_pathname(e.get());
    std::string rel = path.size() > base.size() ? path.substr(base.size()) : "";
    archive_entry_set_pathname(e.get(), (top_name + rel).c_str());
    if (archive_write_header(w.get(), e.get()) != ARCHIVE_OK) {
      return FailInvalid(ArchiveError(w.get(), "tar " + path));
    }
    if (archive_entry_filetype(e.get()) != AE_IFREG) continue;
    char buf[65536];
    for (;;) {
      la_ssize_t n = archive_read_data(disk.get(), buf, sizeof buf);
      if (n < 0) return FailInvalid(ArchiveError(disk.get(), "read " + path));
      if (n == 0) break;
      if (archive_write_data(w.get(), buf, static_cast<size_t>(n)) < 0) {
        return FailInvalid(ArchiveError(w.get(), "tar " + path));
      }
    }
  }
  if (archive_write_close(w.get()) != ARCHIVE_OK) return FailInvalid(ArchiveError(w.get(), "tar"));
  return out;
}

Result<void> UnpackRenamed(const std::string& tar, const std::string& dest) {
  ReadArchive in(archive_read_new());
  WriteArchive disk(archive_write_disk_new());
  if (!in || !disk) return FailInvalid("cannot allocate an archive");
  archive_read_support_format_tar(in.get());
  archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                 ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK);
  archive_write_disk_set_standard_lookup(disk.get());
  if (archive_read_open_memory(in.get(), tar.data(), tar.size()) != ARCHIVE_OK) {
    return FailInvalid(ArchiveError(in.get(), "the archive from the daemon"));
  }
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(in.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return FailInvalid(ArchiveError(in.get(), "the archive"));
    std::string name = archive_entry_pathname(e);
    if (name == ".." || name.starts_with("../") || name.find("/../") != std::string::npos ||
        name.ends_with("/..") || name.starts_with("/")) {
      return FailInvalid("the archive has an entry outside its root: " + name);
    }
    archive_entry_set_pathname(e, Rename(name, dest).c_str());
    if (const char* hl = archive_entry_hardlink(e)) archive_entry_set_hardlink(e, Rename(hl, dest).c_str());
    if (archive_write_header(disk.get(), e) != ARCHIVE_OK) {
      return FailInvalid(ArchiveError(disk.get(), "write " + Rename(name, dest)));
    }
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      r = archive_read_data_block(in.get(), &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) return FailInvalid(ArchiveError(in.get(), "read " + name));
      if (archive_write_data_block(disk.get(), buf, size, offset) != ARCHIVE_OK) {
        return FailInvalid(ArchiveError(disk.get(), "write " + Rename(name, dest)));
      }
    }
    if (archive_write_finish_entry(disk.get()) != ARCHIVE_OK) {
      return FailInvalid(ArchiveError(disk.get(), "write " + Rename(name, dest)));
    }
  }
  if (archive_write_close(disk.get()) != ARCHIVE_OK) return FailInvalid(ArchiveError(disk.get(), "extract"));
  return {};
}

}  // namespace moor::cli
