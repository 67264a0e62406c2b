// Test-only helpers for the archive tests: temp dirs, a tar builder on top of
// libarchive's writer (so tests can craft any entry, hostile ones included),
// compression of test bytes, and a tree snapshot for comparisons.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "common/file.h"
#include "image/archive/compress.h"
#include "image/archive/extract.h"

namespace moor::image::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-archive-test.XXXXXX";
    if (char* p = ::mkdtemp(tmpl)) path_ = p;
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline UniqueFd OpenDir(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// An fd positioned at 0 holding bytes (a memfd: no file left behind).
inline UniqueFd BytesFd(const std::string& bytes) {
  UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
  (void)WriteAllFd(fd.get(), bytes.data(), bytes.size());
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

inline std::string ReadAllFd(int fd) {
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

inline std::string Compress(const std::string& tar, Compression c, int level = 1) {
  UniqueFd fd(::memfd_create("blob", MFD_CLOEXEC));
  CompressWriter w(fd.get(), c, level);
  (void)w.Init();
  (void)w.Write(tar.data(), tar.size());
  (void)w.Finish();
  return ReadAllFd(fd.get());
}

// Crafts tars entry by entry with libarchive's pax writer; nothing is
// sanitised, so names like "../x" go into the tar as written.
class TarBuilder {
 public:
  struct Spec {
    std::string name;
    mode_t type = AE_IFREG;
    mode_t perm = 0644;
    int64_t uid = 0, gid = 0;
    int64_t mtime = 1'600'000'000;
    std::string data;
    int64_t size = -1;  // header size when different from data.size()
    std::string symlink, hardlink;
    dev_t rdev = 0;
    std::vector<std::pair<std::string, std::string>> xattrs;
  };

  TarBuilder() : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_add_filter_none(a_);
    archive_write_set_bytes_per_block(a_, 0);
    archive_write_open2(a_, &out_, nullptr, &TarBuilder::WriteCb, nullptr, nullptr);
  }
  ~TarBuilder() { archive_write_free(a_); }
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  TarBuilder& Add(const Spec& s) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, s.name.c_str());
    archive_entry_set_filetype(e, s.type);
    archive_entry_set_perm(e, s.perm);
    archive_entry_set_uid(e, s.uid);
    archive_entry_set_gid(e, s.gid);
    archive_entry_set_mtime(e, s.mtime, 0);
    archive_entry_set_size(e, s.size >= 0 ? s.size : static_cast<int64_t>(s.data.size()));
    if (!s.symlink.empty()) archive_entry_set_symlink(e, s.symlink.c_str());
    if (!s.hardlink.empty()) archive_entry_set_hardlink(e, s.hardlink.c_str());
    if (s.rdev) archive_entry_set_rdev(e, s.rdev);
    for (const auto& [k, v] : s.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_write_header(a_, e);
    if (!s.data.empty()) archive_write_data(a_, s.data.data(), s.data.size());
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& File(const std::string& name, const std::string& data, mode_t perm = 0644) {
    Spec s;
    s.name = name;
    s.data = data;
    s.perm = perm;
    return Add(s);
  }
  TarBuilder& Dir(const std::string& name, mode_t perm = 0755) {
    Spec s;
    s.name = name;
    s.type = AE_IFDIR;
    s.perm = perm;
    return Add(s);
  }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    Spec s;
    s.name = name;
    s.type = AE_IFLNK;
    s.perm = 0777;
    s.symlink = target;
    return Add(s);
  }
  TarBuilder& Hardlink(const std::string& name, const std::string& target) {
    Spec s;
    s.name = name;
    s.hardlink = target;
    return Add(s);
  }
  TarBuilder& Node(const std::string& name, mode_t type, dev_t rdev = 0) {
    Spec s;
    s.name = name;
    s.type = type;
    s.rdev = rdev;
    return Add(s);
  }

  std::string Finish() {
    archive_write_close(a_);
    return out_;
  }

 private:
  static la_ssize_t WriteCb(struct archive*, void* client, const void* buf, size_t n) {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  struct archive* a_;
  std::string out_;
};

inline Result<ExtractResult> ExtractBytes(const std::string& bytes, const std::string& root,
                                          const ExtractOptions& opts = {}) {
  UniqueFd src = BytesFd(bytes);
  UniqueFd dir = OpenDir(root);
  return ExtractLayer(src.get(), dir.get(), opts);
}

inline std::string XattrsOf(const std::string& path, bool follow) {
  char names[4096];
  ssize_t n = follow ? ::listxattr(path.c_str(), names, sizeof names)
                     : ::llistxattr(path.c_str(), names, sizeof names);
  std::map<std::string, std::string> kv;
  for (ssize_t i = 0; i < n;) {
    std::string name = names + i;
    i += static_cast<ssize_t>(name.size()) + 1;
    char value[4096];
    ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
    kv[name] = v >= 0 ? std::string(value, static_cast<size_t>(v)) : "?";
  }
  std::string out;
  for (const auto& [k, v] : kv) out += k + "=" + v + ";";
  return out;
}

// path → "type mode uid:gid mtime size/target/rdev content xattrs [link group]"
// for every entry beneath root (root itself excluded); files show their link
// count (tests check which names share an inode themselves).
inline std::map<std::string, std::string> Snapshot(const std::string& root, bool with_mtime = true) {
  std::map<std::string, std::string> out;
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string rel = stack.back();
    stack.pop_back();
    DIR* d = ::opendir((root + "/" + rel).c_str());
    if (!d) continue;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) {
      std::string child = rel.empty() ? n : rel + "/" + n;
      std::string full = root + "/" + child;
      struct stat st;
      if (::lstat(full.c_str(), &st) != 0) continue;
      std::string desc = std::to_string(st.st_mode & S_IFMT) + " " + std::to_string(st.st_mode & 07777) +
                         " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + " ";
      if (with_mtime && !S_ISLNK(st.st_mode)) desc += std::to_string(st.st_mtim.tv_sec) + " ";
      if (S_ISREG(st.st_mode)) {
        auto content = ReadFile(full);
        desc += std::to_string(st.st_size) + " " + (content ? *content : "?");
        desc += " nlink:" + std::to_string(st.st_nlink);
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t t = ::readlink(full.c_str(), target, sizeof target);
        desc += "-> " + std::string(target, t > 0 ? static_cast<size_t>(t) : 0);
      } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        desc += std::to_string(major(st.st_rdev)) + "," + std::to_string(minor(st.st_rdev));
      } else if (S_ISDIR(st.st_mode)) {
        stack.push_back(child);
      }
      if (!S_ISLNK(st.st_mode)) desc += " " + XattrsOf(full, false);
      out[child] = desc;
    }
  }
  return out;
}

// Identity of a host file, to prove a test did not touch it.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  struct timespec mtime {
  }, ctime{};
  bool operator==(const FileId& o) const {
    return dev == o.dev && ino == o.ino && mode == o.mode && uid == o.uid && gid == o.gid &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
           ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

inline FileId IdOf(const std::string& path) {
  FileId id;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    id = {st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_mtim, st.st_ctim};
  }
  return id;
}

}  // namespace moor::image::testing
