// Executes a RootfsPlan inside the child's new mount namespace.
//
// Runs in the container child (single-threaded, after clone). Every target is
// resolved inside the rootfs by fd (in_root.h); bind mounts use the detached
// mount API (open_tree + mount_setattr + move_mount) so read-only binds are
// never writable, not even for an instant.
#pragma once

#include "common/error.h"
#include "common/fd.h"
#include "oci/spec.h"
#include "runtime/rootfs_plan.h"

namespace moor::runtime {

struct ConsoleFds {
  UniqueFd master;  // pty master (sent to --console-socket)
  UniqueFd slave;   // becomes the process's stdio and /dev/console
};

// Step 1, before the createRuntime hooks: propagation, rootfs bind, config
// mounts, devices, /dev symlinks, masked and read-only paths. With `tty_for`
// (the process that gets a terminal) a pty pair is opened from the
// container's devpts, sized for it, and its slave bind-mounted on
// /dev/console; the fds are returned in `console`.
Result<void> PrepareRootfs(const RootfsPlan& plan, const oci::Process* tty_for, ConsoleFds* console);

// Step 2, after the createContainer hooks: read-only root, pivot_root (or
// MS_MOVE + chroot with no_pivot), final propagation, chdir("/").
Result<void> EnterRootfs(const RootfsPlan& plan);

}  // namespace moor::runtime
