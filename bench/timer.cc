// bench-timer: runs several commands alternately (A B C A B C ...) for a number
// of rounds after warm-up rounds, times each run with CLOCK_MONOTONIC around
// fork/exec/wait4, records the child's peak RSS (ru_maxrss) and CPU time from
// wait4's rusage, and prints medians, p10/p90, max RSS and ratios vs a baseline.
//
//   bench-timer [--rounds K] [--warmup W] [--baseline NAME] [--ratio A/B]...
//               [--timeout-ms MS] [--raw FILE] [--show-output] NAME=COMMAND...
//
// COMMAND is split into words like a shell would (quotes, backslash) but is not
// run through a shell; "{i}" in it becomes the run's sequence number, unique
// across all runs. A run that exits non-zero, dies of a signal or exceeds the
// timeout stops the benchmark with exit status 1 and prints the run's stderr.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/strings.h"
#include "timer_lib.h"

namespace {

using moor::Result;
using moor::UniqueFd;
using namespace moor::bench;

struct Options {
  size_t rounds = 30;
  size_t warmup = 3;
  std::string baseline;  // default: the first command
  std::vector<RatioSpec> ratios;
  long timeout_ms = 60000;
  std::string raw_path;
  bool show_output = false;
  std::vector<CommandSpec> commands;
};

void Usage(FILE* f) {
  fprintf(f,
          "usage: bench-timer [--rounds K] [--warmup W] [--baseline NAME] [--ratio A/B]...\n"
          "                   [--timeout-ms MS] [--raw FILE] [--show-output] NAME=COMMAND...\n"
          "Runs the commands alternately, K rounds after W warm-up rounds, and prints\n"
          "median/p10/p90 wall time, median CPU time, max RSS and ratios. {i} in a\n"
          "COMMAND becomes a number unique to each run.\n");
}

Result<size_t> ParseCount(const char* flag, const char* value, size_t min) {
  auto v = moor::ParseUint(value ? value : "");
  if (!v || *v < min)
    return moor::FailInvalid(std::string(flag) + ": expected a whole number >= " + std::to_string(min));
  return static_cast<size_t>(*v);
}

Result<Options> ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    auto need = [&]() -> Result<const char*> {
      if (!next) return moor::FailInvalid(a + ": missing value");
      ++i;
      return next;
    };
    if (a == "--rounds") {
      const char* v = TRY(need());
      o.rounds = TRY(ParseCount("--rounds", v, 1));
    } else if (a == "--warmup") {
      const char* v = TRY(need());
      o.warmup = TRY(ParseCount("--warmup", v, 0));
    } else if (a == "--timeout-ms") {
      const char* v = TRY(need());
      o.timeout_ms = static_cast<long>(TRY(ParseCount("--timeout-ms", v, 1)));
    } else if (a == "--baseline") {
      o.baseline = TRY(need());
    } else if (a == "--ratio") {
      const char* v = TRY(need());
      o.ratios.push_back(TRY(ParseRatio(v)));
    } else if (a == "--raw") {
      o.raw_path = TRY(need());
    } else if (a == "--show-output") {
      o.show_output = true;
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      exit(0);
    } else if (moor::StartsWith(a, "-")) {
      return moor::FailInvalid(a + ": unknown option (see --help)");
    } else {
      o.commands.push_back(TRY(ParseCommandArg(a)));
    }
  }
  if (o.commands.empty()) return moor::FailInvalid("no commands: give at least one NAME=COMMAND");
  for (size_t i = 0; i < o.commands.size(); ++i)
    for (size_t j = i + 1; j < o.commands.size(); ++j)
      if (o.commands[i].name == o.commands[j].name)
        return moor::FailInvalid("command name \"" + o.commands[i].name + "\" given twice: names must be unique");
  if (o.baseline.empty()) o.baseline = o.commands[0].name;
  return o;
}

double Ms(const timespec& a, const timespec& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) * 1e3 + static_cast<double>(b.tv_nsec - a.tv_nsec) / 1e6;
}

double TvMs(const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; }

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  if (lseek(fd, 0, SEEK_SET) < 0) return out;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Runs argv once. Returns the sample, or an error that says how the run failed
// (with its stderr, captured in `errfd` unless output is shown).
Result<Sample> RunOnce(const std::vector<std::string>& words, const Options& o, int devnull, int errfd) {
  std::vector<char*> cargv;
  for (const std::string& w : words) cargv.push_back(const_cast<char*>(w.c_str()));
  cargv.push_back(nullptr);
  if (errfd >= 0) {
    if (ftruncate(errfd, 0) < 0) return moor::FailErrno("truncate stderr buffer");
    lseek(errfd, 0, SEEK_SET);
  }
  static const char kExecFailed[] = "bench-timer: exec failed: ";

  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) return moor::FailErrno("fork");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(devnull, 0);
    if (!o.show_output) {
      dup2(devnull, 1);
      dup2(errfd, 2);
    }
    execvp(cargv[0], cargv.data());
    // The driver is single-threaded, so strerror is safe here.
    const char* why = strerror(errno);
    (void)!write(2, kExecFailed, sizeof kExecFailed - 1);
    (void)!write(2, why, strlen(why));
    (void)!write(2, "\n", 1);
    _exit(127);
  }
  // glibc 2.36 declares pidfd_open without C linkage for C++; use the syscall.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  bool timed_out = false;
  if (pidfd) {
    pollfd p{pidfd.get(), POLLIN, 0};
    int r;
    do r = poll(&p, 1, static_cast<int>(o.timeout_ms));
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      timed_out = true;
      kill(pid, SIGKILL);
    }
  }
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return moor::FailErrno("wait4");
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);

  std::string what;
  if (timed_out)
    what = "did not finish within " + std::to_string(o.timeout_ms) + " ms and was killed";
  else if (WIFSIGNALED(status))
    what = "was killed by signal " + std::to_string(WTERMSIG(status));
  else if (WEXITSTATUS(status) != 0)
    what = "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!what.empty()) {
    std::string err = errfd >= 0 ? ReadAll(errfd) : "";
    return moor::FailInvalid("`" + moor::Join(words, " ") + "` " + what +
                             (err.empty() ? std::string(" (no stderr)") : "; its stderr:\n" + err));
  }
  Sample s;
  s.wall_ms = Ms(t0, t1);
  s.cpu_ms = TvMs(ru.ru_utime) + TvMs(ru.ru_stime);
  s.max_rss_kib = ru.ru_maxrss;
  return s;
}

int Main(int argc, char** argv) {
  auto opts = ParseArgs(argc, argv);
  if (!opts) {
    fprintf(stderr, "bench-timer: %s\n", opts.error().message().c_str());
    Usage(stderr);
    return 2;
  }
  const Options& o = *opts;
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) {
    perror("bench-timer: open /dev/null");
    return 1;
  }
  UniqueFd errbuf;
  if (!o.show_output) {
    errbuf.Reset(memfd_create("bench-timer-stderr", MFD_CLOEXEC));
    if (!errbuf) {
      perror("bench-timer: memfd_create");
      return 1;
    }
  }
  FILE* raw = nullptr;
  if (!o.raw_path.empty()) {
    raw = fopen(o.raw_path.c_str(), "we");
    if (!raw) {
      fprintf(stderr, "bench-timer: open %s: %s: choose a writable path\n", o.raw_path.c_str(), strerror(errno));
      return 1;
    }
    fprintf(raw, "name\tseq\twall_ms\tcpu_ms\tmax_rss_kib\n");
  }

  std::vector<std::vector<Sample>> samples(o.commands.size());
  uint64_t seq = 0;
  for (const PlannedRun& run : PlanRuns(o.commands.size(), o.warmup, o.rounds)) {
    const CommandSpec& c = o.commands[run.command];
    auto s = RunOnce(SubstituteSeq(c.argv, seq), o, devnull.get(), errbuf.get());
    if (!s) {
      fprintf(stderr, "bench-timer: %s run %llu%s: %s\n", c.name.c_str(), static_cast<unsigned long long>(seq),
              run.warmup ? " (warm-up)" : "", s.error().message().c_str());
      if (raw) fclose(raw);
      return 1;
    }
    if (!run.warmup) {
      samples[run.command].push_back(*s);
      if (raw)
        fprintf(raw, "%s\t%llu\t%.3f\t%.3f\t%ld\n", c.name.c_str(), static_cast<unsigned long long>(seq),
                s->wall_ms, s->cpu_ms, s->max_rss_kib);
    }
    ++seq;
  }
  if (raw) fclose(raw);

  std::vector<Summary> rows;
  for (size_t i = 0; i < o.commands.size(); ++i) rows.push_back(Summarize(o.commands[i].name, samples[i]));
  auto report = FormatReport(rows, o.baseline, o.ratios, o.warmup, o.rounds);
  if (!report) {
    fprintf(stderr, "bench-timer: %s\n", report.error().message().c_str());
    return 2;
  }
  fputs(report->c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
