#include "common/clock.h"

#include <time.h>

#include <cstdio>

namespace moor {

namespace {
std::string Format(int64_t seconds, long nanos, bool with_nanos) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (with_nanos) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09ld", nanos);
    out += frac;
  }
  out += 'Z';
  return out;
}
}  // namespace

std::string NowRfc3339() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return Format(ts.tv_sec, ts.tv_nsec, true);
}

std::string Rfc3339FromUnix(int64_t seconds) { return Format(seconds, 0, false); }

}  // namespace moor
