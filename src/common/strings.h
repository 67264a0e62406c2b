// String helpers shared by every module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moor {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
bool StartsWith(std::string_view s, std::string_view prefix);
std::string_view Trim(std::string_view s);
// Quoted JSON string literal, for hand-written JSON on paths that avoid the
// JSON library (logging).
std::string JsonQuote(std::string_view s);
std::optional<int64_t> ParseInt(std::string_view s);
std::optional<uint64_t> ParseUint(std::string_view s);
// "512", "64k", "128m", "1g", "2t" (binary units, case-insensitive, optional
// trailing "b"), or "-1"; nullopt on anything else or overflow.
std::optional<int64_t> ParseByteSize(std::string_view s);
// Go's duration syntax: "300ms", "1.5h", "2h45m", "0"; units ns, us/µs, ms, s,
// m, h. Nanoseconds; nullopt when malformed, negative or too large.
std::optional<int64_t> ParseDurationNs(std::string_view s);

}  // namespace moor
