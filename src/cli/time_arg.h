// --since / --until values as docker takes them: a Go duration relative to
// now ("10m", "1h30m"), an RFC 3339 time ("2024-01-02T15:04:05Z", date
// alone allowed) or Unix seconds ("1700000000", "1700000000.5"). The API
// wants Unix seconds.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace moor::cli {

// Returns the Unix time as the query string value ("1700000000").
Result<std::string> UnixTimeArg(const std::string& value, int64_t now_unix);

}  // namespace moor::cli
