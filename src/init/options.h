// Command line of moor-init: `moor-init [OPTIONS] [--] PROGRAM [ARGS...]`.
// Pure parsing: no system calls, so it is unit-tested directly.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor::init {

struct Options {
  // The app: argv[0] is the program (searched in PATH when it has no '/').
  // Never empty after a successful parse of Command::kRun.
  std::vector<std::string> argv;
  // -s/--subreaper: become a child subreaper when not PID 1.
  bool subreaper = false;
  // Forward signals to the app's process group (default); --no-group: to the app only.
  bool group = true;
  // --grace SECONDS: SIGKILL the app this long after forwarding SIGTERM to it.
  std::optional<std::chrono::milliseconds> grace;
  // -v/--verbose: debug lines on stderr.
  bool verbose = false;
};

enum class Command { kRun, kHelp, kVersion };

struct Parsed {
  Command command = Command::kRun;
  Options options;
};

// Parses the arguments after argv[0]. Options end at "--" or at the first
// argument that does not start with '-', so the app's own flags are left alone.
// Errors are one line without the "moor-init: " prefix.
Result<Parsed> ParseArgs(const std::vector<std::string>& args);

// "5", "0.5", "1.250" -> milliseconds; at most 3 decimals, at most 1e6 seconds.
Result<std::chrono::milliseconds> ParseSeconds(std::string_view text);

std::string_view UsageText();

}  // namespace moor::init
