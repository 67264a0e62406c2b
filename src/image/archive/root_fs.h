// File system operations confined to an extraction root. Parents are opened
// with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so symlinks in the
// layer (absolute ones included) resolve as they would inside the container
// and never reach the host; final components are handled relative to the
// parent fd without following them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace moor::image {

// O_PATH fd of directory `rel` ("" = the root) resolved inside root_fd. With
// create, missing components are made (0755) one at a time, each relative to
// its already-confined parent.
Result<UniqueFd> OpenDirInRoot(int root_fd, const std::string& rel, bool create);

// Kind of `name` in dirfd without following it: S_IFREG, S_IFDIR, …; 0 when
// it does not exist.
Result<mode_t> KindAt(int dirfd, const std::string& name);

// rm -rf of dirfd/name that never follows symlinks; missing is success.
Result<void> RemoveTreeAt(int dirfd, const std::string& name);

// Removes the children of directory dirfd/name for which keep(child) is false.
Result<void> EmptyDirAt(int dirfd, const std::string& name,
                        const std::function<bool(const std::string&)>& keep);

// chmod that never follows a symlink: a symlink is left alone (Linux ignores
// symlink modes anyway), anything else is changed through an O_PATH fd.
Result<void> ChmodNoFollow(int dirfd, const std::string& name, mode_t mode);

std::string ProcFdPath(int fd);

}  // namespace moor::image
