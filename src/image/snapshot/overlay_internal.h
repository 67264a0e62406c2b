// Internal: the mount(2) fallback of MountOverlay, exposed for its test (the
// kernels tests run on have "lowerdir+", so MountOverlay never takes it).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace moor::image::snapshot_internal {

// lowers top-most first; upper/work ignored with read_only.
Result<void> MountOverlayLegacy(const std::vector<std::string>& top_first, const std::string& upper,
                                const std::string& work, const std::string& target, bool read_only);

}  // namespace moor::image::snapshot_internal
