// Internal: paths resolved inside a rootfs (openat2 RESOLVE_IN_ROOT: "..",
// absolute symlinks and symlinked parents stay inside the root).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "common/error.h"
#include "common/fd.h"

namespace moor::build {

// rel: relative to the root, "" for the root itself.
Result<UniqueFd> OpenInRoot(int root_fd, const std::string& rel, int flags);
// mkdir -p of an absolute in-root path; new dirs 0755, owned by `owner` when
// given. True when something was created.
Result<bool> MkdirAllInRoot(int root_fd, const std::string& abs_dir,
                            std::optional<std::pair<uint32_t, uint32_t>> owner);

}  // namespace moor::build
