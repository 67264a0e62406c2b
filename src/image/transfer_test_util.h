// Test-only helpers for the load/save/import/gc tests: temp roots, tar
// archives made with libarchive, small images.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/file.h"
#include "image/core/digest.h"
#include "image/core/manifest.h"
#include "image/image_service.h"

namespace moor::image::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-transfer-test.XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct TarFile {
  std::string name;
  std::string data;
  std::string symlink;  // non-empty: a symlink to this target
  bool dir = false;
};

enum class Outer { kNone, kGzip, kZstd };

// A tar archive (pax) of the given entries, optionally compressed.
inline std::string MakeTar(const std::vector<TarFile>& files, Outer outer = Outer::kNone) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (outer == Outer::kGzip) archive_write_add_filter_gzip(a);
  if (outer == Outer::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  auto write_cb = [](archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  archive_write_open(a, &out, nullptr, write_cb, nullptr);
  for (auto& f : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, f.name.c_str());
    archive_entry_set_mtime(e, 1700000000, 0);
    if (f.dir) {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
    } else if (!f.symlink.empty()) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_perm(e, 0777);
      archive_entry_set_symlink(e, f.symlink.c_str());
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(f.data.size()));
    }
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!f.data.empty()) archive_write_data(a, f.data.data(), f.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Entries (name -> content) of a tar, for checking what save wrote.
inline std::map<std::string, std::string> ReadTar(const std::string& bytes) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, bytes.data(), bytes.size());
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data;
    char buf[8192];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    out[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return out;
}

// A file holding `data`, opened for reading (unlinked at once).
inline int FdWith(const std::string& dir, const std::string& data) {
  std::string path = dir + "/input-XXXXXX";
  int fd = mkstemp(path.data());
  EXPECT_GE(fd, 0);
  unlink(path.c_str());
  EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  lseek(fd, 0, SEEK_SET);
  return fd;
}

inline std::string ReadAllFd(int fd) {
  std::string out;
  lseek(fd, 0, SEEK_SET);
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A layer tar with one file.
inline std::string LayerTar(const std::string& file, const std::string& content) {
  return MakeTar({{.name = file, .data = content, .symlink = "", .dir = false}});
}

inline std::string ConfigFor(const std::vector<std::string>& layers, const std::string& cmd = "sh") {
  ImageConfig c;
  c.architecture = HostPlatform().architecture;
  c.os = "linux";
  c.created = "2024-01-01T00:00:00Z";
  c.config.cmd = std::vector<std::string>{cmd};
  for (auto& l : layers) c.diff_ids.push_back(Sha256Of(l));
  return SerializeImageConfig(c);
}

inline TarFile File(std::string name, std::string data) {
  return TarFile{.name = std::move(name), .data = std::move(data), .symlink = "", .dir = false};
}
inline TarFile Symlink(std::string name, std::string target) {
  return TarFile{.name = std::move(name), .data = "", .symlink = std::move(target), .dir = false};
}

}  // namespace moor::image::testing
