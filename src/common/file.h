// Small file helpers returning Result. Paths are host paths; nothing here
// resolves inside a container root (see runtime/mounts for that).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor {

Result<std::string> ReadFile(const std::string& path);
// Writes the whole content (O_WRONLY|O_TRUNC|O_CLOEXEC); does not create.
Result<void> WriteExisting(const std::string& path, std::string_view content);
// Atomically replaces `path` (write temp + fsync-less rename) with mode 0600.
Result<void> WriteFileAtomic(const std::string& path, std::string_view content);
// As WriteFileAtomic, and the content and the rename survive a crash: the
// temp file is fsynced before the rename and the directory after it. For
// records that must not be lost (image names); not for hot paths.
Result<void> WriteFileDurable(const std::string& path, std::string_view content);
// mkdir -p with the given mode for created components.
Result<void> MkdirAll(const std::string& path, unsigned mode = 0755);
// rm -rf that never crosses mount points; missing path is success.
Result<void> RemoveAll(const std::string& path);
bool PathExists(const std::string& path);

}  // namespace moor
