// Internal to deploy/store: fd-relative file operations of the release store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace moor::deploy::store_detail {

// Copies all of `src` into `dst` (both regular files, dst empty): FICLONE
// when the filesystem shares extents, else copy_file_range, else read/write.
Result<void> CopyFileData(int src, int dst, const std::string& what);

// Creates `name` in `dirfd` as a copy of `src_name` in `src_dirfd` with `mode`
// (O_EXCL: the name must not exist).
Result<void> CopyFileAt(int src_dirfd, const std::string& src_name, int dirfd, const std::string& name, unsigned mode);

// Removes `name` in `dirfd` recursively (not crossing into other mounts);
// read-only directories are made writable first. Absent is not an error.
Result<void> RemoveTreeAt(int dirfd, const std::string& name);

// The names in an open directory ("." and ".." left out); `what` names it in errors.
Result<std::vector<std::string>> ListNames(int dirfd, const std::string& what);

// Opens a directory below `dirfd` without following a symlink.
Result<UniqueFd> OpenDirAt(int dirfd, const std::string& name);

// Reads a whole file below `dirfd` (at most `max` bytes, else an error).
Result<std::string> ReadFileAt(int dirfd, const std::string& name, int64_t max);

// A name unique in this process for temporary files: PREFIX-<pid>-<n>.
std::string UniqueTempName(const std::string& prefix);

}  // namespace moor::deploy::store_detail
