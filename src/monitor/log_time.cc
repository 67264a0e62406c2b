// Timestamps of the json-file log and the --since/--until forms.
#include <time.h>

#include <cstdio>

#include "common/strings.h"
#include "monitor/log_file.h"

namespace moor::monitor {
namespace {

constexpr int64_t kNs = 1'000'000'000;

// Reads exactly n digits at s[*pos].
std::optional<int> Digits(std::string_view s, size_t* pos, size_t n) {
  if (*pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// Up to 9 fraction digits after a '.', scaled to ns.
std::optional<int64_t> Fraction(std::string_view s, size_t* pos) {
  size_t start = *pos;
  int64_t ns = 0;
  int digits = 0;
  while (*pos < s.size() && s[*pos] >= '0' && s[*pos] <= '9') {
    if (digits < 9) {
      ns = ns * 10 + (s[*pos] - '0');
      ++digits;
    }
    ++*pos;
  }
  if (*pos == start) return std::nullopt;
  for (; digits < 9; ++digits) ns *= 10;
  return ns;
}

// Go duration: "300ms", "1.5h", "2h45m"; nullopt when malformed.
std::optional<int64_t> ParseDuration(std::string_view s) {
  return ParseDurationNs(s);
}

}  // namespace

int64_t NowUnixNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNs + ts.tv_nsec;
}

std::string FormatRfc3339Nano(int64_t unix_ns) {
  int64_t sec = unix_ns / kNs, nsec = unix_ns % kNs;
  if (nsec < 0) {
    nsec += kNs;
    --sec;
  }
  time_t t = static_cast<time_t>(sec);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<long long>(nsec));
  return buf;
}

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  size_t pos = 0;
  auto year = Digits(s, &pos, 4);
  if (!year || !Expect(s, &pos, '-')) return std::nullopt;
  auto month = Digits(s, &pos, 2);
  if (!month || !Expect(s, &pos, '-')) return std::nullopt;
  auto day = Digits(s, &pos, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = *month - 1;
  parts.tm_mday = *day;
  int64_t frac = 0, offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    auto hour = Digits(s, &pos, 2);
    if (!hour || !Expect(s, &pos, ':')) return std::nullopt;
    auto minute = Digits(s, &pos, 2);
    if (!minute) return std::nullopt;
    std::optional<int> second = 0;
    if (Expect(s, &pos, ':')) second = Digits(s, &pos, 2);
    if (!second || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
    parts.tm_hour = *hour;
    parts.tm_min = *minute;
    parts.tm_sec = *second;
    if (Expect(s, &pos, '.')) {
      auto f = Fraction(s, &pos);
      if (!f) return std::nullopt;
      frac = *f;
    }
    if (pos < s.size()) {
      char z = s[pos++];
      if (z == 'Z' || z == 'z') {
      } else if (z == '+' || z == '-') {
        auto oh = Digits(s, &pos, 2);
        if (!oh) return std::nullopt;
        Expect(s, &pos, ':');
        auto om = Digits(s, &pos, 2);
        if (!om) return std::nullopt;
        offset_s = (*oh * 3600 + *om * 60) * (z == '+' ? 1 : -1);
      } else {
        return std::nullopt;
      }
    }
  }
  if (pos != s.size()) return std::nullopt;
  int64_t sec = static_cast<int64_t>(timegm(&parts)) - offset_s;
  return sec * kNs + frac;
}

Result<int64_t> ParseLogTime(std::string_view s, int64_t now_ns) {
  s = Trim(s);
  if (auto t = ParseRfc3339(s)) return *t;
  // Unix seconds with an optional fraction.
  size_t dot = s.find('.');
  if (auto sec = ParseInt(s.substr(0, dot)); sec && !s.empty() && s[0] != '-' && s[0] != '+') {
    size_t pos = dot + 1;
    if (dot == std::string_view::npos) return *sec * kNs;
    // "1.5" is seconds, "1.5h" a duration.
    if (auto f = Fraction(s, &pos); f && pos == s.size()) return *sec * kNs + *f;
  }
  if (auto d = ParseDuration(s)) return now_ns - *d;
  return FailInvalid("invalid time \"" + std::string(s) +
                     "\": use RFC 3339 (2026-11-27T10:00:00Z), unix seconds or a duration like 10m");
}

}  // namespace moor::monitor
