// Named network namespaces for containers: created by the daemon before the
// container starts (so networking is set up before the process runs and
// survives restarts of the container), pinned by a bind mount on a file in
// a runtime directory (/run/moor/netns/ID), passed to the OCI runtime by path.
#pragma once

#include <functional>
#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace moor::net {

// Creates a new network namespace pinned at dir/name (dir created 0700);
// the calling thread's namespace is unchanged. Returns the path. Error if it
// exists. On failure nothing is left behind.
Result<std::string> CreatePinnedNetns(const std::string& dir, const std::string& name);
// Unmounts (MNT_DETACH) and unlinks the pin; absent: ok.
Result<void> RemovePinnedNetns(const std::string& path);
// Opens a pinned namespace (O_RDONLY|O_CLOEXEC).
Result<UniqueFd> OpenNetns(const std::string& path);

// Runs fn with the calling thread switched into the namespace at netns_fd,
// switching back afterwards (on a dedicated short-lived thread, so the
// caller's thread is never left in the wrong namespace).
Result<void> InNetns(int netns_fd, const std::function<Result<void>()>& fn);

}  // namespace moor::net
