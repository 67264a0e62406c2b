// Decoding JSON string escapes by hand, for the hot paths that read json-file
// logs without a JSON parser (the monitor's log reader, the shipper's tailer).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace moor {

// s[*pos] is the letter after a backslash inside a JSON string. Appends what
// the escape stands for to out (\uXXXX as UTF-8, a surrogate pair as one
// character, a lone surrogate as U+FFFD) and moves *pos past the escape.
// False on an escape JSON does not have, or a short or bad \u.
bool AppendJsonEscape(std::string_view s, size_t* pos, std::string* out);

}  // namespace moor
