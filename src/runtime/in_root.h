// Path resolution confined to a container root directory.
//
// Every lookup goes through openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
// so ".." and absolute symlinks inside the rootfs resolve within it and a
// mount target can never be redirected to a host path (runc CVE-2023-27561,
// CVE-2025-31133 and relatives).
#pragma once

#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace moor::runtime {

enum class CreateAs { kNothing, kDirectory, kFile };

struct InRootOptions {
  CreateAs create = CreateAs::kNothing;
  // Refuse any symlink on the way (used for /proc and /sys targets).
  bool no_symlinks = false;
};

// Opens `path` (absolute or relative, interpreted inside `root_fd`) as an
// O_PATH fd, creating missing components when asked (directories 0755; a
// final file 0644 empty). ENOENT is returned as-is when not creating.
Result<UniqueFd> OpenInRoot(int root_fd, const std::string& path, InRootOptions opts = {});

// "/proc/self/fd/N": a path naming an open fd, usable as a mount(2) target.
std::string FdPath(int fd);

}  // namespace moor::runtime
