// Overlay rootfs assembly with the new mount API, falling back to mount(2).
//
// Options, and why:
// - index=off: with the inode index on, overlayfs records in each upper which
//   lower layers it was made from and refuses to mount the same lowers with
//   another upper; snapshots are shared by many containers at once.
// - metacopy=off: metacopy lets overlay copy up only metadata and follow a
//   trusted.overlay.metacopy/redirect xattr to the data; layers come from
//   images we do not trust, and an upper we adopt as a layer must hold full
//   files, not pointers into lowers.
// - redirect_dir=off: renaming a lower directory then fails with EXDEV and
//   tools fall back to copy + delete, so an upper dir is a plain diff that a
//   tar of it (commit / build step) reproduces; redirect xattrs would not
//   survive export.
// userxattr is not used: we run as root and want trusted.* whiteout xattrs.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/file.h"
#include "image/snapshot/overlay_internal.h"
#include "image/snapshot/snapshotter.h"

namespace moor::image {

namespace {

constexpr const char* kOptions[][2] = {{"index", "off"}, {"metacopy", "off"}, {"redirect_dir", "off"}};

// The kernel's error text for a failed fsconfig/create, read from the fs
// context ("e overlay: failed to resolve 'x': -2" → "overlay: failed …").
std::string KernelLog(int fsfd) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fsfd, buf, sizeof buf - 1);
    if (n <= 0) break;
    std::string_view line(buf, static_cast<size_t>(n));
    if (line.size() > 2 && line[1] == ' ') line.remove_prefix(2);
    while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

Error MountError(int fsfd, const std::string& what) {
  int saved = errno;
  std::string log = KernelLog(fsfd);
  Error e = Error::FromErrno(saved, what);
  if (!log.empty()) e = Error(saved, e.message() + " (" + log + ")");
  return e;
}

// The lowerdir= option separates layers with ':' and options with ','; both,
// and the escape character itself, must be backslash-escaped inside a path.
std::string EscapeLayer(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

// Legacy mount(2) path for kernels without "lowerdir+" (before 6.8): the
// whole option string must fit in one page.
Result<void> snapshot_internal::MountOverlayLegacy(const std::vector<std::string>& top_first,
                                                   const std::string& upper, const std::string& work,
                                                   const std::string& target, bool read_only) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < top_first.size(); ++i) {
    if (i) data += ':';
    data += EscapeLayer(top_first[i]);
  }
  if (!read_only) data += ",upperdir=" + EscapeLayer(upper) + ",workdir=" + EscapeLayer(work);
  for (const auto& o : kOptions) data += std::string(",") + o[0] + "=" + o[1];
  if (data.size() >= static_cast<size_t>(::sysconf(_SC_PAGESIZE)))
    return Fail(Error(E2BIG, "mount overlay at " + target + ": " + std::to_string(top_first.size()) +
                                 " layers do not fit in the mount options on this kernel (needs Linux 6.8 "
                                 "for more); flatten the image or use shorter storage paths"));
  unsigned long flags = read_only ? MS_RDONLY : 0;
  if (::mount("overlay", target.c_str(), "overlay", flags, data.c_str()) != 0)
    return FailErrno("mount overlay at " + target);
  return {};
}

namespace {

// A single read-only layer: overlay needs two lowers without an upper, and a
// read-only bind mount is the same view anyway.
Result<void> BindReadOnly(const std::string& source, const std::string& target) {
  UniqueFd tree(::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) return FailErrno("bind " + source);
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
    return FailErrno("make bind of " + source + " read-only");
  if (::move_mount(tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return FailErrno("attach bind of " + source + " at " + target);
  return {};
}

enum class NewApi { kMounted, kNoLowerdirPlus };

Result<NewApi> MountNewApi(const std::vector<std::string>& top_first, const std::string& upper,
                           const std::string& work, const std::string& target, bool read_only) {
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return FailErrno("fsopen overlay (is the overlay module loaded?)");
  auto set = [&](const char* key, const std::string& value) -> Result<void> {
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0)
      return Fail(MountError(fs.get(), std::string("overlay option ") + key + "=" + value));
    return {};
  };
  TRY(set("source", "overlay"));
  for (size_t i = 0; i < top_first.size(); ++i) {
    // lowerdir+ appends one layer below those given so far: top-most first.
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", top_first[i].c_str(), 0) != 0) {
      if (i == 0 && errno == EINVAL) {
        std::string log = KernelLog(fs.get());
        // Old kernels reject the unknown key; anything else is a real error.
        if (log.find("lowerdir+") != std::string::npos || log.empty()) return NewApi::kNoLowerdirPlus;
        errno = EINVAL;
        return Fail(Error::FromErrno("overlay layer " + top_first[i] + " (" + log + ")"));
      }
      return Fail(MountError(fs.get(), "overlay layer " + top_first[i]));
    }
  }
  if (!read_only) {
    TRY(set("upperdir", upper));
    TRY(set("workdir", work));
  }
  for (const auto& o : kOptions) TRY(set(o[0], o[1]));
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return Fail(MountError(fs.get(), "create overlay for " + target));
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, read_only ? MOUNT_ATTR_RDONLY : 0));
  if (!mnt) return Fail(MountError(fs.get(), "fsmount overlay for " + target));
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return FailErrno("attach overlay at " + target);
  return NewApi::kMounted;
}

}  // namespace

Result<void> MountOverlay(const std::vector<std::string>& lowers, const std::string& rw_dir,
                          const std::string& target, bool read_only) {
  std::string ctx = "mount rootfs at " + target;
  TRY_CTX(MkdirAll(rw_dir, 0700), ctx);
  std::vector<std::string> top_first(lowers.rbegin(), lowers.rend());
  if (top_first.empty()) {
    // FROM scratch: overlay needs a lower, and an empty one adds nothing.
    std::string empty = rw_dir + "/empty";
    TRY_CTX(MkdirAll(empty, 0755), ctx);
    top_first.push_back(empty);
  }
  if (read_only && top_first.size() == 1) {
    TRY_CTX(BindReadOnly(top_first[0], target), ctx);
    return {};
  }
  std::string upper = rw_dir + "/upper", work = rw_dir + "/work";
  if (!read_only) {
    TRY_CTX(MkdirAll(upper, 0755), ctx);
    TRY_CTX(MkdirAll(work, 0700), ctx);
  }
  NewApi how = TRY_CTX(MountNewApi(top_first, upper, work, target, read_only), ctx);
  if (how == NewApi::kNoLowerdirPlus)
    TRY_CTX(snapshot_internal::MountOverlayLegacy(top_first, upper, work, target, read_only), ctx);
  return {};
}

Result<void> UnmountOverlay(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
    // EINVAL: nothing is mounted there (already unmounted); cleanup paths
    // call this unconditionally.
    if (errno == EINVAL) return {};
    return FailErrno("unmount " + target);
  }
  return {};
}

}  // namespace moor::image
