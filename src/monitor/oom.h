// OOM detection: the cgroup's oom_kill counter ("oom_kill N" in cgroup v2
// memory.events and in v1 memory.oom_control). The monitor reads it when the
// container starts and when it exits; an exit by SIGKILL (137) with a grown
// counter is reported as OOMKilled, as Docker does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moor::monitor {

// The value of the "oom_kill" line, nullopt when there is none.
std::optional<int64_t> ParseOomKillCount(std::string_view content);
// Reads the counter from path; 0 when path is empty or unreadable (the cgroup
// may already be gone — then nothing can be told, and "not OOM" is the safe answer).
int64_t ReadOomKillCount(const std::string& path);

}  // namespace moor::monitor
