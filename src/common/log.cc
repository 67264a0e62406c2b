#include "common/log.h"

#include <errno.h>  // program_invocation_short_name
#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/strings.h"

namespace moor::log {
namespace {
int g_fd = 2;
bool g_json = false;
bool g_debug = false;
struct timespec g_start;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

std::string Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}
}  // namespace

void Init(const Options& opts) {
  clock_gettime(CLOCK_MONOTONIC, &g_start);
  g_json = opts.json;
  g_debug = opts.debug;
  if (opts.path && *opts.path) {
    int fd = ::open(opts.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      g_fd = fd;
    } else {
      std::string m = std::string("cannot open log file ") + opts.path + ", logging to stderr\n";
      (void)!::write(2, m.data(), m.size());
    }
  }
}

void Write(Level level, std::string_view msg) {
  if (level == Level::kDebug && !g_debug) return;
  std::string line;
  if (g_json) {
    line = "{\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":";
    line += JsonQuote(msg);
    line += ",\"time\":\"";
    line += Now();
    line += "\"}\n";
  } else {
    // The program's own name: moor-runtime, moor (daemon, CLI), moor-monitor.
    line = program_invocation_short_name;
    line += ": ";
    if (level != Level::kError) {
      line += LevelName(level);
      line += ": ";
    }
    line += msg;
    line += '\n';
  }
  (void)!::write(g_fd, line.data(), line.size());
}

}  // namespace moor::log

namespace moor::log {
void Timing(std::string_view phase) {
  if (!g_debug) return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double ms = static_cast<double>(now.tv_sec - g_start.tv_sec) * 1e3 +
              static_cast<double>(now.tv_nsec - g_start.tv_nsec) / 1e6;
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", ms);
  Write(Level::kDebug, std::string(phase) + ": " + buf + " ms");
}
}  // namespace moor::log
