// Tar archives for `moor cp`, through libarchive: pack a local path under a
// new top-level name, and unpack an archive whose top entry is renamed to a
// local destination. Paths inside the archive never escape the destination
// (no "..", no writing through symlinks).
#pragma once

#include <string>

#include "common/error.h"

namespace moor::cli {

// Tar of `src` (file, directory tree or symlink, not followed) whose entries
// are named `top_name` and `top_name/…`.
Result<std::string> PackPath(const std::string& src, const std::string& top_name);

// Extracts `tar`: its first path component is replaced by `dest`
// ("hosts" → dest, "etc/passwd" → dest/passwd).
Result<void> UnpackRenamed(const std::string& tar, const std::string& dest);

}  // namespace moor::cli
