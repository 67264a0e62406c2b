// The few file-system operations the cgroup managers share. These touch the
// OS; they work on the real cgroupfs and on test fixture trees of plain files.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {

using Clock = std::chrono::steady_clock;

// Runs a plan: for each write, dir_of(write) gives the directory. Stops at the
// first failure, except EINVAL on a write marked retried_later.
Result<void> ExecuteWrites(const std::vector<CgroupWrite>& writes,
                           const std::function<Result<std::string>(const CgroupWrite&)>& dir_of);

// File content, or nullopt when the file does not exist.
Result<std::optional<std::string>> ReadOptional(const std::string& path);
// A decimal file ("123\n"); nullopt when missing or not a number (e.g. "max").
Result<std::optional<uint64_t>> ReadOptionalUint(const std::string& path);
// The value of `key` in a flat-keyed file ("usage_usec 42\n…"); nullopt when
// the file or key is missing.
Result<std::optional<uint64_t>> ReadKeyedUint(const std::string& path, std::string_view key);

// mkdir -p; returns the directories it made, outermost first.
Result<std::vector<std::string>> MakeDirs(const std::string& dir);

// MakeDirs for `dir`, recording every directory it made other than `dir`
// itself in `ancestors` (once each) and passing each to `on_created` (tests).
Result<void> MakeDirsRecorded(const std::string& dir, std::vector<std::string>& ancestors,
                              const std::function<void(const std::string&)>& on_created);

// Runs `make` again (at most 3 more times) while it fails with ENOENT: a
// concurrent Destroy may remove a shared empty ancestor between our mkdirs.
// On final failure calls `undo` and returns the error as "create cgroup: …".
Result<void> CreateRetrying(const std::function<Result<void>()>& make, const std::function<void()>& undo);

// Every pid in <dir>/cgroup.procs and its descendants' (sorted, distinct). A
// missing dir gives an empty list.
Result<std::vector<pid_t>> ReadPidsRecursive(const std::string& dir);

// Sends `signal` to each pid (never to pid <= 0 or to the caller). Returns the
// pids that still existed (kill did not fail with ESRCH).
std::vector<pid_t> SignalPids(const std::vector<pid_t>& pids, int signal);

// Removes `dir` and every cgroup below it, deepest first. A missing dir is
// success. EBUSY (processes still exiting) is retried until `deadline`. On a
// file system other than cgroupfs (test fixtures) the plain files in a
// directory are removed first, standing in for the kernel.
Result<void> RemoveCgroupTree(const std::string& dir, Clock::time_point deadline);
// Removes `dir` when it holds no cgroup; in use or missing is success.
Result<void> RemoveIfUnused(const std::string& dir);

// True when `path` is on a cgroup or cgroup2 file system.
bool OnCgroupFs(const std::string& path);

// Sleeps a little longer each time: 1 ms doubling up to 20 ms.
void Backoff(int& step);

}  // namespace moor::runtime::cgroups
