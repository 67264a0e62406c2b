// Scan errors as one line: what failed, why (errno), then what to do.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::deploy {

// "<what>: <strerror(errno)> (<hint>)", from the current errno.
inline std::unexpected<Error> FailErrnoHint(std::string_view what, std::string_view hint) {
  int err = errno;
  return Fail(Error(err, std::string(what) + ": " + std::strerror(err) + " (" + std::string(hint) + ")"));
}

constexpr std::string_view kReadableHint = "make it readable, or list it in .moorignore";

}  // namespace moor::deploy
