#include "cli/table.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

namespace moor::cli {

namespace {
// Display width: count UTF-8 code points, not bytes.
size_t Width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
}  // namespace

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (auto& r : rows_) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], Width(r[i]));
  }
  std::string out;
  for (auto& r : rows_) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - Width(r[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string HumanSize(int64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%lldB", static_cast<long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, v < 10 ? "%.3g%s" : "%.3g%s", v, units[u]);
  }
  return buf;
}

std::string Ago(const std::string& rfc3339) {
  struct tm tm {};
  const char* end = strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return "N/A";
  time_t then = timegm(&tm);
  long d = static_cast<long>(time(nullptr) - then);
  auto plural = [](long n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s") + " ago";
  };
  if (d < 0) return "N/A";
  if (d < 60) return d <= 1 ? "Less than a second ago" : plural(d, "second");
  if (d < 3600) return plural(d / 60, "minute");
  if (d < 86400) return plural(d / 3600, "hour");
  if (d < 86400 * 14) return plural(d / 86400, "day");
  if (d < 86400 * 60) return plural(d / (86400 * 7), "week");
  if (d < 86400 * 365 * 2) return plural(d / (86400 * 30), "month");
  return plural(d / (86400 * 365), "year");
}

std::string BinarySize(double v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", v, units[u]);
  return buf;
}

}  // namespace moor::cli
