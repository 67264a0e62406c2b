#include "init/options.h"

#include "common/strings.h"

namespace moor::init {
namespace {

constexpr std::string_view kUsageHint = " (run moor-init --help for usage)";

Result<void> ApplyShortFlags(std::string_view flags, Parsed& out) {
  for (char c : flags) {
    switch (c) {
      case 's': out.options.subreaper = true; break;
      case 'g': out.options.group = true; break;
      case 'v': out.options.verbose = true; break;
      case 'h': out.command = Command::kHelp; break;
      default:
        return FailInvalid("unknown option \"-" + std::string(1, c) + "\"" + std::string(kUsageHint));
    }
  }
  return {};
}

}  // namespace

Result<std::chrono::milliseconds> ParseSeconds(std::string_view text) {
  auto bad = [&] {
    return FailInvalid("invalid --grace \"" + std::string(text) +
                       "\": give seconds as a number such as 10 or 0.5");
  };
  std::string_view whole = text, frac;
  if (size_t dot = text.find('.'); dot != std::string_view::npos) {
    whole = text.substr(0, dot);
    frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 3) return bad();
  }
  auto secs = ParseUint(whole);
  if (!secs || *secs > 1'000'000) return bad();
  uint64_t ms = 0;
  if (!frac.empty()) {
    auto f = ParseUint(frac);
    if (!f) return bad();
    ms = *f;
    for (size_t i = frac.size(); i < 3; ++i) ms *= 10;
  }
  return std::chrono::milliseconds(*secs * 1000 + ms);
}

Result<Parsed> ParseArgs(const std::vector<std::string>& args) {
  Parsed out;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;  // first non-option: the app
    if (a == "--subreaper") {
      out.options.subreaper = true;
    } else if (a == "--group") {
      out.options.group = true;
    } else if (a == "--no-group") {
      out.options.group = false;
    } else if (a == "--verbose") {
      out.options.verbose = true;
    } else if (a == "--version") {
      out.command = Command::kVersion;
    } else if (a == "--help") {
      out.command = Command::kHelp;
    } else if (a == "--grace" || StartsWith(a, "--grace=")) {
      std::string_view value;
      if (a == "--grace") {
        if (i + 1 >= args.size()) return FailInvalid("--grace needs a value in seconds" + std::string(kUsageHint));
        value = args[++i];
      } else {
        value = a.substr(8);
      }
      out.options.grace = TRY(ParseSeconds(value));
    } else if (a[1] == '-') {
      return FailInvalid("unknown option \"" + std::string(a) + "\"" + std::string(kUsageHint));
    } else {
      TRY(ApplyShortFlags(a.substr(1), out));
    }
  }
  if (out.command != Command::kRun) return out;
  if (i >= args.size()) {
    return FailInvalid("no program given: usage: moor-init [OPTIONS] [--] PROGRAM [ARGS...]");
  }
  if (args[i].empty()) return FailInvalid("the program name is empty: give the app to run after the options");
  out.options.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return out;
}

std::string_view UsageText() {
  return "usage: moor-init [OPTIONS] [--] PROGRAM [ARGS...]\n"
         "Runs PROGRAM as PID 1's child: forwards signals to it, reaps zombies,\n"
         "and exits with its exit code (128+N when it dies by signal N).\n"
         "\n"
         "  -s, --subreaper     adopt orphans as a child subreaper when not PID 1\n"
         "  -g, --group         forward signals to the app's process group (default)\n"
         "      --no-group      forward signals to the app process only\n"
         "      --grace SECONDS after forwarding SIGTERM, SIGKILL the app if it is\n"
         "                      still running SECONDS later (default: never)\n"
         "  -v, --verbose       debug lines on stderr\n"
         "      --version       print the version and exit\n"
         "  -h, --help          print this help and exit\n";
}

}  // namespace moor::init
