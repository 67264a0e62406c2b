// Wall-clock timestamps in the formats moor writes (image configs, records).
#pragma once

#include <cstdint>
#include <string>

namespace moor {

// "2026-11-26T21:49:35.123456789Z" (UTC, nanoseconds), as Docker writes "created".
std::string NowRfc3339();
// Seconds since the epoch → "2026-11-26T21:49:35Z".
std::string Rfc3339FromUnix(int64_t seconds);

}  // namespace moor
