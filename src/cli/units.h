// Values the container flags take, parsed the way the docker CLI reads them.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/error.h"

namespace moor::cli {

// Go durations: "300ms", "10s", "1m30s", "1.5h", "0"; units ns us ms s m h.
// Returns nanoseconds. Negative durations are rejected (no flag wants one).
Result<int64_t> ParseDuration(std::string_view s);
// Docker's byte sizes: "512", "512b", "64k", "128m", "1g" (binary units).
Result<int64_t> ParseBytes(std::string_view s);
// "--cpus 1.5" → NanoCpus 1500000000.
Result<int64_t> ParseNanoCpus(std::string_view s);

}  // namespace moor::cli
