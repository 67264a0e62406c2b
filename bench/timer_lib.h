// Pure parts of the benchmark driver (bench-timer): command-line parsing of the
// commands to time, {i} substitution, order of runs, statistics and the report.
// Nothing here touches the OS, so all of it is unit-tested (timer_lib_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor::bench {

// Splits one command line into argv words, shell-like but without expansion:
// blanks separate words; '...' keeps everything literally; "..." keeps
// everything except that \" and \\ stand for " and \; outside quotes a
// backslash takes the next character literally. Fails on an unterminated quote
// or a trailing backslash, and on an empty command.
Result<std::vector<std::string>> SplitCommandLine(std::string_view line);

// One command to time: "NAME=COMMAND LINE" on the driver's command line.
struct CommandSpec {
  std::string name;
  std::vector<std::string> argv;  // may hold {i} placeholders
};

// Parses "NAME=COMMAND". NAME is [A-Za-z0-9_.-]+ and must be followed by '='.
Result<CommandSpec> ParseCommandArg(std::string_view arg);

// Replaces every "{i}" in every word with `seq` (decimal). Words without the
// placeholder are copied unchanged.
std::vector<std::string> SubstituteSeq(const std::vector<std::string>& argv, uint64_t seq);

// One planned run: which command, and whether it is a warm-up (not recorded).
struct PlannedRun {
  size_t command = 0;
  bool warmup = false;
};

// The order of runs: `warmup` rounds then `rounds` rounds, each round running
// every command once in the given order (A B C A B C ...). The caller numbers
// the runs 0, 1, 2, ... in this order; that number is what {i} becomes, so it is
// unique across every command and round.
std::vector<PlannedRun> PlanRuns(size_t commands, size_t warmup, size_t rounds);

// Value at percentile p (0..100) with linear interpolation between the closest
// ranks (p50 of {1,2,3,4} is 2.5). REQUIRES: samples not empty, 0 <= p <= 100.
double Percentile(std::vector<double> samples, double p);

// One recorded run of a command.
struct Sample {
  double wall_ms = 0;      // fork .. wait4 returned, CLOCK_MONOTONIC
  double cpu_ms = 0;       // user + system time of the child and what it reaped
  long max_rss_kib = 0;    // ru_maxrss from wait4: peak RSS of the child or of
                           // any descendant it waited for
};

struct Summary {
  std::string name;
  size_t runs = 0;
  double median_ms = 0;
  double p10_ms = 0;
  double p90_ms = 0;
  double cpu_median_ms = 0;
  long max_rss_kib = 0;
};

// REQUIRES: samples not empty.
Summary Summarize(std::string name, const std::vector<Sample>& samples);

// A ratio to print: median(numerator) / median(denominator), both by name.
struct RatioSpec {
  std::string numerator;
  std::string denominator;
};

// Parses "A/B".
Result<RatioSpec> ParseRatio(std::string_view arg);

// The report: one row per summary, with a last column "vs <baseline>" giving
// median / median(baseline), followed by one line per requested ratio
// ("ratio A/B: 7.81x"). Fails when the baseline or a ratio names an unknown
// command.
Result<std::string> FormatReport(const std::vector<Summary>& rows, std::string_view baseline,
                                 const std::vector<RatioSpec>& ratios, size_t warmup, size_t rounds);

}  // namespace moor::bench
