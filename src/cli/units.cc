#include "cli/units.h"

#include <charconv>
#include <cmath>
#include <string>

#include "common/strings.h"

namespace moor::cli {

namespace {

// Consumes a decimal number ("1", "1.5", ".5") from the front of s.
bool TakeNumber(std::string_view& s, double* out) {
  size_t i = 0;
  bool digits = false;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
    digits |= s[i] != '.';
    ++i;
  }
  if (!digits) return false;
  std::string num(s.substr(0, i));
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), *out);
  if (ec != std::errc() || p != num.data() + num.size()) return false;
  s.remove_prefix(i);
  return true;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view s) {
  std::string orig(s);
  auto bad = [&] {
    return FailInvalid("invalid duration \"" + orig +
                       "\": use a number with a unit (ms, s, m, h), e.g. 1m30s");
  };
  if (s == "0") return 0;
  if (s.empty()) return bad();
  double total = 0;
  while (!s.empty()) {
    double n = 0;
    if (!TakeNumber(s, &n)) return bad();
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "µs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else
      return bad();
    total += n * scale;
  }
  if (total > 9.2e18) return bad();
  return static_cast<int64_t>(std::llround(total));
}

Result<int64_t> ParseBytes(std::string_view s) {
  auto v = ParseByteSize(s);
  if (!v || *v < 0) {
    return FailInvalid("invalid size \"" + std::string(s) +
                       "\": use a number with an optional unit (b, k, m, g)");
  }
  return *v;
}

Result<int64_t> ParseNanoCpus(std::string_view s) {
  std::string_view rest = s;
  double n = 0;
  if (!TakeNumber(rest, &n) || !rest.empty() || n <= 0 || n > 1e6) {
    return FailInvalid("invalid --cpus \"" + std::string(s) + "\": give a positive number such as 1.5");
  }
  return static_cast<int64_t>(std::llround(n * 1e9));
}

}  // namespace moor::cli
