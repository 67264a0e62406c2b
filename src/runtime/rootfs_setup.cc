#include "runtime/rootfs_setup.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/in_root.h"
#include "runtime/process_io.h"

namespace moor::runtime {
namespace {

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

Result<void> MountAt(const char* source, int target_fd, const char* fstype, unsigned long flags, const std::string& data,
                     const std::string& what) {
  if (::mount(source, FdPath(target_fd).c_str(), fstype, flags, data.empty() ? nullptr : data.c_str()) != 0)
    return FailErrno("mount " + what);
  return {};
}

// Clone of the tree at source_fd/source_path, attributes applied while
// detached, then attached at target_fd.
Result<void> BindAt(int source_dirfd, const char* source_path, unsigned int tree_flags, int target_fd,
                    unsigned long flags, unsigned long propagation, bool recursive, const std::string& what) {
  UniqueFd tree(::open_tree(source_dirfd, source_path,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | tree_flags | (recursive ? AT_RECURSIVE : 0)));
  if (!tree) return FailErrno("bind " + what);
  struct mount_attr attr = {};
  attr.attr_set = MountAttrFromFlags(flags);
  if (propagation) attr.propagation = propagation & ~static_cast<unsigned long>(MS_REC);
  if (attr.attr_set || attr.propagation) {
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) != 0)
      return FailErrno("set attributes of bind " + what);
  }
  if (::move_mount(tree.get(), "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return FailErrno("attach bind " + what);
  return {};
}

bool IsDir(const std::string& host_path) {
  struct stat st;
  return ::stat(host_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<void> MountCgroups(int root_fd, const PlannedMount& m, const RootfsPlan& plan) {
  std::string what = Quote(m.destination);
  UniqueFd target = TRY(OpenInRoot(root_fd, m.destination, {CreateAs::kDirectory, true}));
  unsigned long ro = m.options.flags & MS_RDONLY;
  // cgroup v2 only: the container's own cgroup directory is the mount.
  if (plan.cgroups.size() == 1 && plan.cgroups[0].name.empty())
    return BindAt(AT_FDCWD, plan.cgroups[0].host_dir.c_str(), 0, target.get(), MS_NOSUID | MS_NODEV | MS_NOEXEC | ro,
                  0, false, what);
  TRY(MountAt("cgroup", target.get(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", what));
  for (const auto& v : plan.cgroups) {
    std::string dest = m.destination + "/" + v.name;
    UniqueFd t = TRY(OpenInRoot(root_fd, dest, {CreateAs::kDirectory, true}));
    TRY(BindAt(AT_FDCWD, v.host_dir.c_str(), 0, t.get(), MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, 0, false,
               Quote(dest)));
  }
  if (ro) {
    // Reopen the tmpfs root (the fd above points below it) and seal it.
    UniqueFd again = TRY(OpenInRoot(root_fd, m.destination, {CreateAs::kNothing, true}));
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(again.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
      return FailErrno("make " + what + " read-only");
  }
  return {};
}

Result<void> DoMount(int root_fd, const PlannedMount& m, const RootfsPlan& plan) {
  std::string what = Quote(m.destination);
  if (m.type == "cgroup") return MountCgroups(root_fd, m, plan);
  if (m.options.bind) {
    CreateAs kind = IsDir(m.source) ? CreateAs::kDirectory : CreateAs::kFile;
    UniqueFd target = TRY(OpenInRoot(root_fd, m.destination, {kind, false}));
    return BindAt(AT_FDCWD, m.source.c_str(), 0, target.get(), m.options.flags, m.options.propagation,
                  m.options.recursive, what + " from " + Quote(m.source));
  }
  // /proc and /sys must be real directories of the rootfs: a symlink there
  // could send the mount (and later masks) anywhere.
  bool strict = m.type == "proc" || m.type == "sysfs";
  UniqueFd target = TRY(OpenInRoot(root_fd, m.destination, {CreateAs::kDirectory, strict}));
  if (strict) {
    struct stat st;
    if (::fstat(target.get(), &st) != 0 || !S_ISDIR(st.st_mode))
      return FailInvalid("mount " + what + ": destination is not a directory");
  }
  unsigned long flags = m.options.flags & ~static_cast<unsigned long>(MS_REMOUNT);
  if (::mount(m.source.c_str(), FdPath(target.get()).c_str(), m.type.c_str(), flags,
              m.options.data.empty() ? nullptr : m.options.data.c_str()) != 0) {
    int err = errno;
    // sysfs cannot be mounted without owning the network namespace: fall
    // back to a read-only recursive bind of the host's /sys, as runc does.
    if (m.type == "sysfs" && (err == EPERM || err == EBUSY))
      return BindAt(AT_FDCWD, "/sys", 0, target.get(), flags | MS_RDONLY, 0, true, what);
    return Fail(Error::FromErrno(err, "mount " + what + " (" + m.type + ")"));
  }
  if (m.options.propagation) {
    UniqueFd again = TRY(OpenInRoot(root_fd, m.destination, {CreateAs::kNothing, strict}));
    if (::mount(nullptr, FdPath(again.get()).c_str(), nullptr, m.options.propagation, nullptr) != 0)
      return FailErrno("set propagation of " + what);
  }
  return {};
}

Result<void> CreateDevice(int root_fd, const DevicePlan& d, bool bind) {
  std::string what = Quote(d.path);
  if (bind) {
    UniqueFd target = TRY(OpenInRoot(root_fd, d.path, {CreateAs::kFile, false}));
    return BindAt(AT_FDCWD, d.path.c_str(), 0, target.get(), MS_NOSUID | MS_NOEXEC, 0, false, "device " + what);
  }
  std::string dir = d.path.substr(0, d.path.rfind('/'));
  std::string name = d.path.substr(d.path.rfind('/') + 1);
  UniqueFd parent = TRY(OpenInRoot(root_fd, dir.empty() ? "/" : dir, {CreateAs::kDirectory, false}));
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  // mknodat needs a real directory fd, not O_PATH.
  UniqueFd pdir(::openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pdir) return FailErrno("open parent of device " + what);
  ::unlinkat(pdir.get(), name.c_str(), 0);
  if (::mknodat(pdir.get(), name.c_str(), type | (d.mode & 07777),
                makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor))) != 0)
    return FailErrno("mknod device " + what);
  if (::fchownat(pdir.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0) return FailErrno("chown device " + what);
  if (::fchmodat(pdir.get(), name.c_str(), d.mode & 07777, 0) != 0) return FailErrno("chmod device " + what);
  return {};
}

Result<void> DevSymlinks(int root_fd) {
  UniqueFd dev_path = TRY(OpenInRoot(root_fd, "/dev", {CreateAs::kDirectory, false}));
  UniqueFd dev(::openat(dev_path.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dev) return FailErrno("open /dev in rootfs");
  const std::pair<const char*, const char*> links[] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
      {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
  };
  for (const auto& [target, name] : links) {
    struct stat st;
    if (std::string_view(name) == "ptmx") ::unlinkat(dev.get(), name, 0);  // a stray node must not win
    else if (::fstatat(dev.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST)
      return FailErrno(std::string("symlink /dev/") + name);
  }
  return {};
}

// The host's /dev/null, checked to be the real device before it is used to
// mask anything (a rootfs cannot substitute its own).
Result<UniqueFd> HostDevNull() {
  UniqueFd fd(::open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return FailErrno("open host /dev/null");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno("stat host /dev/null");
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
    return FailInvalid("host /dev/null is not the null device (1:3); refusing to mask paths with it");
  return fd;
}

Result<void> MaskPath(int root_fd, const std::string& path, int null_fd) {
  auto target = OpenInRoot(root_fd, path, {CreateAs::kNothing, false});
  if (!target) {
    if (target.error().errnum() == ENOENT) return {};
    return Fail(std::move(target.error()).Wrap("mask"));
  }
  struct stat st;
  if (::fstat(target->get(), &st) != 0) return FailErrno("stat masked path " + Quote(path));
  if (S_ISDIR(st.st_mode))
    return MountAt("tmpfs", target->get(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=755",
                   "mask " + Quote(path));
  return BindAt(null_fd, "", AT_EMPTY_PATH, target->get(), 0, 0, false, "mask " + Quote(path));
}

Result<void> ReadonlyPath(int root_fd, const std::string& path) {
  auto target = OpenInRoot(root_fd, path, {CreateAs::kNothing, false});
  if (!target) {
    if (target.error().errnum() == ENOENT) return {};
    return Fail(std::move(target.error()).Wrap("read-only path"));
  }
  return BindAt(target->get(), "", AT_EMPTY_PATH, target->get(), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, true,
                "read-only " + Quote(path));
}

Result<void> OpenConsole(int root_fd, const oci::Process* process, ConsoleFds* console) {
  UniqueFd ptmx_path = TRY(OpenInRoot(root_fd, "/dev/pts/ptmx", {CreateAs::kNothing, true}));
  Pty pty = TRY(OpenPty(FdPath(ptmx_path.get()), process ? *process : oci::Process{}));
  UniqueFd target = TRY(OpenInRoot(root_fd, "/dev/console", {CreateAs::kFile, false}));
  TRY(BindAt(pty.slave.get(), "", AT_EMPTY_PATH, target.get(), 0, 0, false, "\"/dev/console\""));
  console->master = std::move(pty.master);
  console->slave = std::move(pty.slave);
  return {};
}

}  // namespace

Result<void> PrepareRootfs(const RootfsPlan& plan, const oci::Process* tty_for, ConsoleFds* console) {
  if (::mount(nullptr, "/", nullptr, plan.root_propagation, nullptr) != 0) return FailErrno("make / a slave mount");
  // The rootfs becomes a mount point of its own (pivot_root needs one).
  if (::mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return FailErrno("bind rootfs " + Quote(plan.rootfs));
  UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return FailErrno("open rootfs " + Quote(plan.rootfs));
  UniqueFd null_fd = TRY(HostDevNull());

  for (const auto& m : plan.mounts) TRY(DoMount(root.get(), m, plan));
  if (!plan.dev_is_bind) {
    for (const auto& d : plan.devices) TRY(CreateDevice(root.get(), d, plan.bind_devices));
    TRY(DevSymlinks(root.get()));
  }
  if (tty_for) TRY(OpenConsole(root.get(), tty_for, console));
  if (!plan.cwd.empty()) TRY_CTX(OpenInRoot(root.get(), plan.cwd, {CreateAs::kDirectory, false}), "process.cwd");
  for (const auto& p : plan.masked_paths) TRY(MaskPath(root.get(), p, null_fd.get()));
  for (const auto& p : plan.readonly_paths) TRY(ReadonlyPath(root.get(), p));
  return {};
}

Result<void> EnterRootfs(const RootfsPlan& plan) {
  if (plan.readonly) {
    UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return FailErrno("open rootfs");
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(root.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
      return FailErrno("make rootfs read-only");
  }
  if (::chdir(plan.rootfs.c_str()) != 0) return FailErrno("chdir rootfs");
  if (plan.no_pivot) {
    if (::mount(plan.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0) return FailErrno("move rootfs to /");
    if (::chroot(".") != 0) return FailErrno("chroot");
  } else {
    // pivot_root(".", "."): the old root ends up on top of the new one and is
    // detached right away; no directory inside the rootfs is needed.
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return FailErrno("pivot_root");
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) return FailErrno("make old root a slave");
    if (::umount2(".", MNT_DETACH) != 0) return FailErrno("detach old root");
  }
  if (::chdir("/") != 0) return FailErrno("chdir /");
  if (plan.final_propagation && ::mount(nullptr, "/", nullptr, plan.final_propagation, nullptr) != 0)
    return FailErrno("set rootfs propagation");
  return {};
}

}  // namespace moor::runtime
