// Unix-socket helpers of the monitor: paths longer than sun_path (108 bytes)
// are reached through /proc/self/fd/N of their directory, so deep runtime
// directories still work.
#pragma once

#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace moor::monitor {

// Non-blocking, close-on-exec listening socket at path (a stale file there is removed).
Result<UniqueFd> ListenUnix(const std::string& path);
// Blocking connect (close-on-exec) to path.
Result<UniqueFd> ConnectUnix(const std::string& path);
// Receives one file descriptor passed with SCM_RIGHTS (the runtime's console socket).
Result<UniqueFd> ReceiveFd(int sock);

}  // namespace moor::monitor
