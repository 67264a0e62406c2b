// Process-wide logging for the CLIs. Text to stderr by default; `--log FILE`
// and `--log-format json` give runc-compatible JSON lines
// ({"level":"error","msg":"…","time":"…"}) that containerd and Docker read.
#pragma once

#include <string_view>

namespace moor::log {

enum class Level { kDebug, kInfo, kWarn, kError };

struct Options {
  const char* path = nullptr;  // nullptr: stderr
  bool json = false;
  bool debug = false;
};

// Call once, before other threads exist. Falls back to stderr when the file
// cannot be opened (and says so).
void Init(const Options& opts);
void Write(Level level, std::string_view msg);

inline void Debug(std::string_view m) { Write(Level::kDebug, m); }
// With --debug: "<phase>: <ms since Init()> ms", to see where time goes.
void Timing(std::string_view phase);
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }

}  // namespace moor::log
