// DecodeJsonFileRecord: one record of Docker's json-file log.
//
// The tailer decodes every line a container prints, so the monitor's own
// layout (monitor/log_file.cc: "log" first, then a fixed 60-byte suffix of
// stream and a 30-character time) is decoded without a JSON parser, and its
// text without a per-byte loop when it has no escape. Anything else goes
// through nlohmann::json.
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/json_escape.h"
#include "logship/tail/tailer.h"

namespace moor::logship {
namespace {

constexpr std::string_view kPrefix = "{\"log\":\"";
// `","stream":"stdout","time":"2026-11-27T10:00:00.123456789Z"}`
constexpr size_t kSuffix = 60;
constexpr int64_t kNs = 1'000'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based
// civil-to-days computation: 400-year eras of 146097 days, years from March).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool Digits(std::string_view s, size_t* pos, size_t n, int* v) {
  if (*pos + n > s.size()) return false;
  int x = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    x = x * 10 + (c - '0');
  }
  *pos += n;
  *v = x;
  return true;
}

bool Lit(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// RFC 3339 (any fraction length, Z or ±HH:MM) → unix ns.
std::optional<int64_t> ParseTime(std::string_view s) {
  size_t p = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!Digits(s, &p, 4, &y) || !Lit(s, &p, '-') || !Digits(s, &p, 2, &mo) || !Lit(s, &p, '-') || !Digits(s, &p, 2, &d))
    return std::nullopt;
  if (p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return std::nullopt;
  ++p;
  if (!Digits(s, &p, 2, &h) || !Lit(s, &p, ':') || !Digits(s, &p, 2, &mi) || !Lit(s, &p, ':') ||
      !Digits(s, &p, 2, &sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  int64_t frac = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int digits = 0;
    for (; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p, ++digits)
      if (digits < 9) frac = frac * 10 + (s[p] - '0');
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) frac *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int sign = s[p++] == '+' ? 1 : -1, oh = 0, om = 0;
    if (!Digits(s, &p, 2, &oh) || !Lit(s, &p, ':') || !Digits(s, &p, 2, &om)) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
  return secs * kNs + frac;
}

// The body of a JSON string (between its quotes) → its text; false when it
// is not one (an unescaped quote, a bad escape).
bool Unescape(std::string_view body, std::string* out) {
  out->clear();
  const char* bs = static_cast<const char*>(std::memchr(body.data(), '\\', body.size()));
  if (bs == nullptr) {  // the common case: a copy
    if (std::memchr(body.data(), '"', body.size()) != nullptr) return false;
    out->assign(body);
    return true;
  }
  size_t i = 0;
  while (i < body.size()) {
    size_t b = body.find('\\', i);
    std::string_view run = body.substr(i, b == std::string_view::npos ? std::string_view::npos : b - i);
    if (run.find('"') != std::string_view::npos) return false;
    out->append(run);
    if (b == std::string_view::npos) break;
    if (b + 1 >= body.size()) return false;
    i = b + 1;
    if (!AppendJsonEscape(body, &i, out)) return false;
  }
  return true;
}

bool StreamOf(std::string_view s, Stream* stream) {
  if (s == "stdout") {
    *stream = Stream::kStdout;
  } else if (s == "stderr") {
    *stream = Stream::kStderr;
  } else {
    return false;
  }
  return true;
}

bool DecodeOwn(std::string_view line, std::string* text, Stream* stream, int64_t* time_ns) {
  if (line.size() < kPrefix.size() + kSuffix || !line.starts_with(kPrefix)) return false;
  std::string_view suffix = line.substr(line.size() - kSuffix);
  if (!suffix.starts_with("\",\"stream\":\"") || suffix.substr(18, 10) != "\",\"time\":\"" || !suffix.ends_with("\"}"))
    return false;
  if (!StreamOf(suffix.substr(12, 6), stream)) return false;
  // Every line of one read of the container's pipe carries the same stamp:
  // parse a stamp once, not once a line.
  thread_local char last_stamp[30] = {};
  thread_local int64_t last_ns = -1;
  std::string_view stamp = suffix.substr(28, 30);
  std::optional<int64_t> t;
  if (last_ns >= 0 && std::memcmp(stamp.data(), last_stamp, sizeof last_stamp) == 0) {
    t = last_ns;
  } else {
    t = ParseTime(stamp);
    if (!t) return false;
    std::memcpy(last_stamp, stamp.data(), sizeof last_stamp);
    last_ns = *t;
  }
  if (!Unescape(line.substr(kPrefix.size(), line.size() - kPrefix.size() - kSuffix), text)) return false;
  *time_ns = *t;
  return true;
}

}  // namespace

bool DecodeJsonFileRecord(std::string_view line, std::string* text, Stream* stream, int64_t* time_ns) {
  if (DecodeOwn(line, text, stream, time_ns)) return true;
  // Other writers (Docker itself) may order or add fields differently.
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto log = j.find("log");
  auto st = j.find("stream");
  auto time = j.find("time");
  if (log == j.end() || !log->is_string() || st == j.end() || !st->is_string() || time == j.end() || !time->is_string())
    return false;
  if (!StreamOf(st->get_ref<const std::string&>(), stream)) return false;
  *text = log->get_ref<const std::string&>();
  *time_ns =
      ParseTime(time->get_ref<const std::string&>()).value_or(0);  // a record without a usable time still has its text
  return true;
}

}  // namespace moor::logship
