#include "timer_lib.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace moor::bench {

Result<std::vector<std::string>> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos)
        return FailInvalid("command line: unterminated ' quote: close it or escape it with \\");
      cur.append(line.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= line.size())
          return FailInvalid("command line: unterminated \" quote: close it or escape it with \\");
        if (line[j] == '"') break;
        if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '"' || line[j + 1] == '\\')) ++j;
        cur += line[j];
      }
      i = j;
    } else if (c == '\\') {
      if (i + 1 >= line.size())
        return FailInvalid("command line: trailing backslash: remove it or escape it as \\\\");
      cur += line[++i];
    } else {
      cur += c;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  if (words.empty()) return FailInvalid("command line: empty command: give a program to run");
  return words;
}

Result<CommandSpec> ParseCommandArg(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return FailInvalid("command \"" + std::string(arg) + "\": expected NAME=COMMAND, e.g. floor='busybox true'");
  std::string_view name = arg.substr(0, eq);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok)
      return FailInvalid("command name \"" + std::string(name) + "\": use only letters, digits, '_', '-', '.'");
  }
  auto argv = SplitCommandLine(arg.substr(eq + 1));
  if (!argv) return std::unexpected(std::move(argv.error()).Wrap("command " + std::string(name)));
  return CommandSpec{std::string(name), std::move(*argv)};
}

std::vector<std::string> SubstituteSeq(const std::vector<std::string>& argv, uint64_t seq) {
  const std::string seq_text = std::to_string(seq);
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (const std::string& w : argv) {
    std::string r;
    size_t pos = 0;
    for (;;) {
      size_t p = w.find("{i}", pos);
      r.append(w, pos, p == std::string::npos ? std::string::npos : p - pos);
      if (p == std::string::npos) break;
      r += seq_text;
      pos = p + 3;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<PlannedRun> PlanRuns(size_t commands, size_t warmup, size_t rounds) {
  std::vector<PlannedRun> plan;
  plan.reserve(commands * (warmup + rounds));
  for (size_t r = 0; r < warmup + rounds; ++r)
    for (size_t c = 0; c < commands; ++c) plan.push_back({c, r < warmup});
  return plan;
}

double Percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  if (samples.size() == 1) return samples[0];
  double rank = p / 100.0 * static_cast<double>(samples.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, samples.size() - 1);
  double frac = rank - static_cast<double>(lo);
  return samples[lo] + (samples[hi] - samples[lo]) * frac;
}

Summary Summarize(std::string name, const std::vector<Sample>& samples) {
  std::vector<double> wall, cpu;
  Summary s;
  s.name = std::move(name);
  s.runs = samples.size();
  for (const Sample& x : samples) {
    wall.push_back(x.wall_ms);
    cpu.push_back(x.cpu_ms);
    s.max_rss_kib = std::max(s.max_rss_kib, x.max_rss_kib);
  }
  s.median_ms = Percentile(wall, 50);
  s.p10_ms = Percentile(wall, 10);
  s.p90_ms = Percentile(wall, 90);
  s.cpu_median_ms = Percentile(cpu, 50);
  return s;
}

Result<RatioSpec> ParseRatio(std::string_view arg) {
  size_t slash = arg.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == arg.size() ||
      arg.find('/', slash + 1) != std::string_view::npos)
    return FailInvalid("ratio \"" + std::string(arg) + "\": expected A/B with two command names, e.g. runc/moor");
  return RatioSpec{std::string(arg.substr(0, slash)), std::string(arg.substr(slash + 1))};
}

namespace {

const Summary* FindRow(const std::vector<Summary>& rows, std::string_view name) {
  for (const Summary& s : rows)
    if (s.name == name) return &s;
  return nullptr;
}

__attribute__((format(printf, 1, 2))) std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace

Result<std::string> FormatReport(const std::vector<Summary>& rows, std::string_view baseline,
                                 const std::vector<RatioSpec>& ratios, size_t warmup, size_t rounds) {
  const Summary* base = FindRow(rows, baseline);
  if (!base)
    return FailInvalid("baseline \"" + std::string(baseline) + "\": no command of that name; use one of the NAMEs given");
  size_t width = 4;
  for (const Summary& s : rows) width = std::max(width, s.name.size());
  const int w = static_cast<int>(width);
  std::string out = Fmt("%zu rounds after %zu warm-up rounds; commands alternate in each round\n", rounds, warmup);
  std::string vs = "vs " + std::string(baseline);
  out += Fmt("%-*s %5s %10s %9s %9s %11s %12s %10s\n", w, "name", "runs", "median ms", "p10 ms", "p90 ms",
             "cpu med ms", "max RSS KiB", vs.c_str());
  for (const Summary& s : rows) {
    double ratio = base->median_ms > 0 ? s.median_ms / base->median_ms : 0.0;
    out += Fmt("%-*s %5zu %10.2f %9.2f %9.2f %11.2f %12ld %9.2fx\n", w, s.name.c_str(), s.runs, s.median_ms,
               s.p10_ms, s.p90_ms, s.cpu_median_ms, s.max_rss_kib, ratio);
  }
  for (const RatioSpec& r : ratios) {
    const Summary* a = FindRow(rows, r.numerator);
    const Summary* b = FindRow(rows, r.denominator);
    if (!a || !b)
      return FailInvalid("ratio " + r.numerator + "/" + r.denominator + ": names an unknown command");
    double ratio = b->median_ms > 0 ? a->median_ms / b->median_ms : 0.0;
    out += Fmt("ratio %s/%s: %.2fx\n", r.numerator.c_str(), r.denominator.c_str(), ratio);
  }
  return out;
}

}  // namespace moor::bench
