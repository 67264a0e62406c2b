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
  auto ns = ParseDurationNs(s);
  if (!ns) {
    return FailInvalid("invalid duration \"" + std::string(s) +
                       "\": use a number with a unit (ms, s, m, h), e.g. 1m30s");
  }
  return *ns;
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
