#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <random>

#include "engine/engine_internal.h"

namespace moor::engine {

std::string RandomHex(size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = hex[rng() & 15];
  return s;
}

std::string RandomName() {
  static const char* adjectives[] = {"brave", "calm",  "eager", "fond",   "gentle", "happy", "jolly",
                                     "keen",  "lucid", "merry", "nimble", "proud",  "quiet", "sharp",
                                     "swift", "tidy",  "vivid", "wise",   "bold",   "clever"};
  static const char* names[] = {"lovelace", "hopper", "turing",  "ritchie", "thompson", "knuth",  "dijkstra",
                                "hamilton", "liskov", "torvalds", "cerf",   "kahn",     "lamport", "mccarthy",
                                "backus",   "allen",  "wirth",   "pike",    "stroustrup", "shannon"};
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return std::string(adjectives[rng() % 20]) + "_" + names[rng() % 20];
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NowRfc3339Nano() {
  int64_t ns = NowNs();
  time_t secs = ns / 1'000'000'000;
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

bool ReadLine(int fd, std::string& buf, std::string* line) {
  for (;;) {
    auto nl = buf.find('\n');
    if (nl != std::string::npos) {
      *line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return true;
    }
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

void ApplyMonitorState(const monitor::MonitorState& m, ContainerState* s) {
  if (m.status == "running" || m.status == "starting") {
    s->status = "running";
  } else if (m.status == "restarting") {
    s->status = "restarting";
  } else {
    s->status = "exited";
  }
  s->pid = m.status == "running" ? m.pid : 0;
  s->exit_code = m.exit_code;
  s->oom_killed = m.oom_killed;
  s->restart_count = m.restart_count;
  if (!m.started_at.empty()) s->started_at = m.started_at;
  if (!m.finished_at.empty()) s->finished_at = m.finished_at;
  s->manually_stopped = m.manually_stopped;
  s->error = m.error;
}

}  // namespace moor::engine
