// Creation of each entry type relative to its confined parent directory, and
// the metadata that goes with it. No call here follows the final component:
// files are opened O_NOFOLLOW, links and nodes are handled through *at()
// calls with AT_SYMLINK_NOFOLLOW.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "image/archive/entry_path.h"
#include "image/archive/root_fs.h"
#include "image/archive/tar_entry.h"

namespace moor::image {

namespace {

std::string Quote(const std::string& s) {
  return "\"" + s + "\"";
}

// The owner the entry gets, or nullopt to leave the extracting user's.
std::optional<std::pair<uint32_t, uint32_t>> OwnerFor(const ExtractState& st, const TarEntry& e) {
  if (st.opts.force_owner) return st.opts.force_owner;
  if (st.opts.preserve_owner) return std::make_pair(e.uid, e.gid);
  return std::nullopt;
}

// Layers must not forge overlayfs' own metadata (redirects, origins,
// opaqueness): that is expressed by whiteout entries only.
bool AllowedXattr(const std::string& name) {
  return name.rfind("trusted.overlay.", 0) != 0;
}

// Unsupported xattrs (file system without them, or a namespace the extracting
// user may not write) are dropped; user.* failures are real errors.
bool IgnorableXattrError(const std::string& name, int err) {
  if (err == ENOTSUP) return true;
  return err == EPERM && name.rfind("user.", 0) != 0;
}

Result<void> SetXattrsFd(int fd, const TarEntry& e) {
  for (const auto& [name, value] : e.xattrs) {
    if (!AllowedXattr(name)) continue;
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0 &&
        !IgnorableXattrError(name, errno))
      return FailErrno("set xattr " + name);
  }
  return {};
}

Result<void> SetXattrsPath(const std::string& path, const TarEntry& e) {
  for (const auto& [name, value] : e.xattrs) {
    if (!AllowedXattr(name)) continue;
    if (::setxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) != 0 &&
        !IgnorableXattrError(name, errno))
      return FailErrno("set xattr " + name);
  }
  return {};
}

struct timespec MtimeSpec(const TarEntry& e) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(e.mtime_sec);
  ts.tv_nsec = e.mtime_nsec;
  return ts;
}

// Owner and xattrs of an open directory (its mode and mtime are deferred).
Result<void> ApplyDirMetadata(ExtractState& st, int fd, const TarEntry& e) {
  if (auto owner = OwnerFor(st, e)) {
    if (::fchown(fd, owner->first, owner->second) != 0) return FailErrno("chown");
  }
  return SetXattrsFd(fd, e);
}

// Clears the way for a new non-directory entry named base. Removing anything
// may change what a cached parent path resolves to: the cache is dropped.
Result<void> RemoveExisting(ExtractState& st, int parent, const std::string& base) {
  mode_t kind = TRY(KindAt(parent, base));
  if (kind == 0) return {};
  st.parent.valid = false;
  if (kind == S_IFDIR) return RemoveTreeAt(parent, base);
  if (::unlinkat(parent, base.c_str(), 0) != 0) return FailErrno("remove existing entry");
  return {};
}

// Creates base with `create`, which returns -1/errno; when the name is taken
// the existing entry is removed and creation tried once more. Trying first
// saves a stat per entry in the common case of a fresh directory.
template <typename Create>
Result<void> CreateReplacing(ExtractState& st, int parent, const std::string& base, const char* what,
                             Create create) {
  if (create() == 0) return {};
  if (errno != EEXIST) return FailErrno(what);
  TRY(RemoveExisting(st, parent, base));
  if (create() != 0) return FailErrno(what);
  return {};
}

Result<void> WriteDirectory(ExtractState& st, int parent, const std::string& base, const TarEntry& e) {
  mode_t kind = TRY(KindAt(parent, base));
  // The directory may replace something, and its chown changes what files
  // created in it start out as: drop the cached parent.
  st.parent.valid = false;
  if (kind != S_IFDIR) {
    if (kind != 0 && ::unlinkat(parent, base.c_str(), 0) != 0) return FailErrno("remove existing entry");
    if (::mkdirat(parent, base.c_str(), 0755) != 0) return FailErrno("mkdir");
  }
  UniqueFd fd(::openat(parent, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno("open directory");
  TRY(ApplyDirMetadata(st, fd.get(), e));
  st.dirs.push_back({e.path, e.perm, e.has_mtime, e.mtime_sec, e.mtime_nsec});
  return {};
}

// A regular file is created with its permission bits (special bits come from
// fchmod: writing could clear them) and root-owned by the extracting user;
// one fstat then tells which of chown and chmod still change anything, so a
// typical file costs open + write + fstat + futimens.
Result<void> WriteRegular(ExtractState& st, int parent, const std::string& base, const TarEntry& e,
                          const DataWriter& data) {
  UniqueFd fd;
  TRY(CreateReplacing(st, parent, base, "create file", [&] {
    constexpr int kFlags = O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC;
    fd.Reset(::openat(parent, base.c_str(), kFlags, e.perm & 0777));
    return fd ? 0 : -1;
  }));
  TRY(data(fd.get()));
  struct stat sb;
  if (::fstat(fd.get(), &sb) != 0) return FailErrno("stat created file");
  bool chowned = false;
  if (auto owner = OwnerFor(st, e); owner && (sb.st_uid != owner->first || sb.st_gid != owner->second)) {
    // Before chmod: chown clears setuid/setgid.
    if (::fchown(fd.get(), owner->first, owner->second) != 0) return FailErrno("chown");
    chowned = true;
  }
  TRY(SetXattrsFd(fd.get(), e));
  // An ACL xattr may have changed the mode: then chmod whatever fstat said.
  if (chowned || !e.xattrs.empty() || (sb.st_mode & 07777) != e.perm) {
    if (::fchmod(fd.get(), e.perm) != 0) return FailErrno("chmod");
  }
  if (e.has_mtime) {
    struct timespec ts[2] = {MtimeSpec(e), MtimeSpec(e)};
    if (::futimens(fd.get(), ts) != 0) return FailErrno("set mtime");
  }
  return {};
}

Result<void> WriteSymlink(ExtractState& st, int parent, const std::string& base, const TarEntry& e) {
  if (e.link.empty()) return FailInvalid("symlink has an empty target");
  // The target is stored verbatim: it is only ever resolved inside the
  // container (or, here, by openat2 RESOLVE_IN_ROOT).
  TRY(CreateReplacing(st, parent, base, "symlink",
                      [&] { return ::symlinkat(e.link.c_str(), parent, base.c_str()); }));
  if (auto owner = OwnerFor(st, e)) {
    if (::fchownat(parent, base.c_str(), owner->first, owner->second, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno("chown symlink");
  }
  if (e.has_mtime) {
    struct timespec ts[2] = {MtimeSpec(e), MtimeSpec(e)};
    if (::utimensat(parent, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno("set symlink mtime");
  }
  return {};
}

Result<void> WriteHardlink(ExtractState& st, int parent, const std::string& base, const TarEntry& e) {
  std::string target = TRY_CTX(CleanEntryPath(e.link), "hardlink target");
  if (target.empty()) return FailInvalid("hardlink target " + Quote(e.link) + " is the root directory");
  if (target == e.path) return {};  // a link to itself: the file is already there
  SplitPath t = SplitParent(target);
  auto tparent = OpenDirInRoot(st.root_fd, t.parent, false);
  if (!tparent) return FailInvalid("hardlink target " + Quote(e.link) + " does not exist in the layer");
  mode_t kind = TRY(KindAt(tparent->get(), t.base));
  if (kind == 0) return FailInvalid("hardlink target " + Quote(e.link) + " does not exist in the layer");
  if (kind != S_IFREG) return FailInvalid("hardlink target " + Quote(e.link) + " is not a regular file");
  TRY(RemoveExisting(st, parent, base));
  // flags 0: linkat does not follow the target (it is a regular file anyway).
  if (::linkat(tparent->get(), t.base.c_str(), parent, base.c_str(), 0) != 0) return FailErrno("hardlink");
  return {};
}

Result<void> WriteNode(ExtractState& st, int parent, const std::string& base, const TarEntry& e) {
  if ((e.type == S_IFCHR || e.type == S_IFBLK) && !st.opts.allow_devices)
    return FailInvalid("is a device node and devices are not allowed in this layer");
  TRY(RemoveExisting(st, parent, base));
  if (::mknodat(parent, base.c_str(), e.type | (e.perm & 0777), e.rdev) != 0) return FailErrno("mknod");
  if (auto owner = OwnerFor(st, e)) {
    if (::fchownat(parent, base.c_str(), owner->first, owner->second, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno("chown");
  }
  // Nodes cannot be opened for writing safely (a fifo blocks, a device acts):
  // an O_PATH fd pins the inode and its /proc magic link names it.
  UniqueFd fd(::openat(parent, base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno("open node");
  struct stat sb;
  if (::fstat(fd.get(), &sb) != 0 || (sb.st_mode & S_IFMT) != e.type)
    return FailInvalid("node changed under us");
  TRY(SetXattrsPath(ProcFdPath(fd.get()), e));
  if (::chmod(ProcFdPath(fd.get()).c_str(), e.perm) != 0) return FailErrno("chmod");
  if (e.has_mtime) {
    struct timespec ts[2] = {MtimeSpec(e), MtimeSpec(e)};
    if (::utimensat(parent, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return FailErrno("set mtime");
  }
  return {};
}

// The confined parent directory `rel` (made as needed), from the cache when
// the previous entry resolved the same one and nothing was removed since.
Result<int> ParentFd(ExtractState& st, const std::string& rel) {
  if (st.parent.valid && st.parent.path == rel) return st.parent.fd.get();
  st.parent.valid = false;
  st.parent.fd = TRY(OpenDirInRoot(st.root_fd, rel, true));
  st.parent.path = rel;
  st.parent.valid = true;
  return st.parent.fd.get();
}

Result<void> WriteEntryIn(ExtractState& st, const TarEntry& e, const DataWriter& data) {
  if (e.path.empty()) {
    // "./" describes the root itself: only its metadata can change.
    if (e.type != S_IFDIR || e.hardlink) return FailInvalid("names the layer root but is not a directory");
    UniqueFd fd(::openat(st.root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return FailErrno("open root");
    TRY(ApplyDirMetadata(st, fd.get(), e));
    st.dirs.push_back({"", e.perm, e.has_mtime, e.mtime_sec, e.mtime_nsec});
    return {};
  }
  SplitPath sp = SplitParent(e.path);
  int parent = TRY(ParentFd(st, sp.parent));
  if (e.hardlink) return WriteHardlink(st, parent, sp.base, e);
  switch (e.type) {
    case S_IFDIR:
      return WriteDirectory(st, parent, sp.base, e);
    case S_IFREG:
      return WriteRegular(st, parent, sp.base, e, data);
    case S_IFLNK:
      return WriteSymlink(st, parent, sp.base, e);
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
      return WriteNode(st, parent, sp.base, e);
    default:
      return FailInvalid("has an unsupported file type");
  }
}

}  // namespace

Result<void> WriteEntry(ExtractState& st, const TarEntry& e, const DataWriter& data) {
  TRY_CTX(WriteEntryIn(st, e, data), "entry " + Quote(e.raw_name));
  if (st.opts.whiteouts == WhiteoutMode::kFlatten) {
    // Parents made implicitly belong to this layer too.
    for (size_t slash = e.path.find('/'); slash != std::string::npos; slash = e.path.find('/', slash + 1))
      st.written.insert(e.path.substr(0, slash));
    st.written.insert(e.path);
  }
  return {};
}

Result<void> FinishDirectories(ExtractState& st) {
  st.parent.valid = false;
  auto depth = [](const std::string& p) { return p.empty() ? 0 : 1 + std::count(p.begin(), p.end(), '/'); };
  std::stable_sort(st.dirs.begin(), st.dirs.end(),
                   [&](const DeferredDir& a, const DeferredDir& b) { return depth(a.path) > depth(b.path); });
  for (const auto& d : st.dirs) {
    SplitPath sp = d.path.empty() ? SplitPath{"", "."} : SplitParent(d.path);
    // A later entry may have replaced or whited out the directory: skip it.
    auto parent = OpenDirInRoot(st.root_fd, sp.parent, false);
    if (!parent) continue;
    if (TRY(KindAt(parent->get(), sp.base)) != S_IFDIR) continue;
    TRY_CTX(ChmodNoFollow(parent->get(), sp.base, d.perm), "directory " + Quote(d.path));
    if (d.has_mtime) {
      struct timespec ts[2];
      ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(d.mtime_sec);
      ts[0].tv_nsec = ts[1].tv_nsec = d.mtime_nsec;
      if (::utimensat(parent->get(), sp.base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
        return FailErrno("set mtime of directory " + Quote(d.path));
    }
  }
  return {};
}

}  // namespace moor::image
