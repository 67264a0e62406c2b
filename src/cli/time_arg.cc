#include "cli/time_arg.h"

#include <time.h>

#include <cctype>

#include "cli/units.h"
#include "common/strings.h"

namespace moor::cli {

Result<std::string> UnixTimeArg(const std::string& value, int64_t now_unix) {
  if (value.empty()) return FailInvalid("empty time value");
  bool numeric = true;
  for (char c : value) numeric &= std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  if (numeric) return value;
  if (auto d = ParseDuration(value)) return std::to_string(now_unix - *d / 1'000'000'000);
  struct tm tm {};
  const char* end = strptime(value.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) {
    tm = {};
    end = strptime(value.c_str(), "%Y-%m-%d", &tm);
    if (!end || *end) end = nullptr;
  } else {
    // Fractions and a "Z" / "+hh:mm" suffix: fractions dropped, offsets applied.
    std::string rest = end;
    while (!rest.empty() && (rest[0] == '.' || std::isdigit(static_cast<unsigned char>(rest[0])))) {
      rest.erase(0, 1);
    }
    int64_t offset = 0;
    if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
      auto h = ParseInt(rest.substr(1, 2));
      auto m = ParseInt(rest.substr(4, 2));
      if (!h || !m) return FailInvalid("invalid time \"" + value + "\"");
      offset = (*h * 3600 + *m * 60) * (rest[0] == '+' ? 1 : -1);
    } else if (!rest.empty() && rest != "Z") {
      end = nullptr;
    }
    if (end) return std::to_string(static_cast<int64_t>(timegm(&tm)) - offset);
  }
  if (!end) {
    return FailInvalid("invalid time \"" + value + "\": use a duration (10m), RFC 3339 time or Unix seconds");
  }
  return std::to_string(static_cast<int64_t>(timegm(&tm)));
}

}  // namespace moor::cli
