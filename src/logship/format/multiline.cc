// Multi-line joining and app JSON parsing. The joiner sees every line of a
// source, so it matches with POSIX regexec (a DFA-ish matcher in glibc, far
// faster than std::regex) and reuses its buffers: after warm-up a line costs
// no allocation.
#include "logship/format/multiline.h"

#include <regex.h>

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace moor::logship {

struct LineJoiner::Impl {
  MultilineOptions opts;
  regex_t re{};
  bool has_re = false;
  OwnedRecord event;  // the pending event (or the scratch record without a pattern)
  bool pending = false;
  size_t lines = 0;
  int64_t last_line_ns = 0;  // when the pending event last grew
  std::string nul_line;      // NUL-terminated copy for regexec without REG_STARTEND

  ~Impl() {
    if (has_re) regfree(&re);
  }

  bool Starts(std::string_view line) {
#ifdef REG_STARTEND
    // glibc reads [rm_so, rm_eo) of pmatch[0] even with REG_NOSUB: no copy,
    // and NUL bytes inside the line do not cut it short.
    regmatch_t range[1];
    range[0].rm_so = 0;
    range[0].rm_eo = static_cast<regoff_t>(line.size());
    const char* data = line.empty() ? "" : line.data();
    return regexec(&re, data, 1, range, REG_STARTEND) == 0;
#else
    nul_line.assign(line);
    return regexec(&re, nul_line.c_str(), 0, nullptr, 0) == 0;
#endif
  }

  void Begin(int64_t time_ns, Stream stream, uint32_t source, std::string_view line) {
    event.time_ns = time_ns;
    event.stream = stream;
    event.source = source;
    event.text.assign(line);
    event.fields.clear();
    pending = true;
    lines = 1;
    last_line_ns = time_ns;
  }

  void EmitPending(const Emit& emit) {
    if (!pending) return;
    pending = false;
    lines = 0;
    emit(event);
    event.text.clear();  // keeps its capacity for the next event
  }
};

// What could make one match slow for every container's shipping (the tail
// thread runs it on each line): back-references (matching with them is
// exponential in glibc), counts past 255, nested counts that multiply past
// 1000 ((a{255}){255} takes seconds a line), and patterns past 512 bytes.
static std::string SlowPatternReason(std::string_view p) {
  if (p.size() > 512) return "longer than 512 bytes";
  // Per open group: the largest product of nested counts inside it (1: no
  // count); [0] is the whole pattern.
  std::vector<size_t> weight{1};
  bool after_group = false;
  size_t group_weight = 1;  // of the group that just closed
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '[') {
      // A bracket expression: "]" right after "[" or "[^" is a member, and
      // [:class:], [=x=], [.x.] are skipped whole.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') {
        if (p[j] == '[' && j + 1 < p.size() && (p[j + 1] == ':' || p[j + 1] == '=' || p[j + 1] == '.')) {
          char kind = p[j + 1];
          size_t end = p.find(std::string{kind, ']'}, j + 2);
          if (end == std::string_view::npos) return "";  // regcomp refuses it
          j = end + 2;
          continue;
        }
        ++j;
      }
      i = j;  // at the closing "]" (or the end: regcomp refuses it)
      after_group = false;
      continue;
    }
    if (c == '\\' && i + 1 < p.size()) {
      if (p[i + 1] >= '1' && p[i + 1] <= '9') return "a back-reference (\\" + std::string(1, p[i + 1]) + ")";
      ++i;
      after_group = false;
      continue;
    }
    if (c == '(') {
      weight.push_back(1);
      after_group = false;
      continue;
    }
    if (c == ')' && weight.size() > 1) {
      group_weight = weight.back();
      weight.pop_back();
      weight.back() = std::max(weight.back(), group_weight);
      after_group = true;
      continue;
    }
    if (c == '{') {
      size_t j = i + 1, most = 1;
      while (j < p.size() && p[j] != '}') {
        if (p[j] >= '0' && p[j] <= '9') {
          size_t k = j, v = 0;
          while (k < p.size() && p[k] >= '0' && p[k] <= '9' && v <= 255) v = v * 10 + static_cast<size_t>(p[k++] - '0');
          if (v > 255) return "a count above 255";
          most = std::max(most, v);
          j = k;
        } else {
          ++j;
        }
      }
      size_t w = after_group ? group_weight * most : most;
      if (w > 1000) return "nested counts that multiply past 1000";
      weight.back() = std::max(weight.back(), w);
      i = j;
      after_group = false;
      continue;
    }
    after_group = false;
  }
  return "";
}

Result<void> CheckStartPattern(const std::string& pattern) {
  if (std::string why = SlowPatternReason(pattern); !why.empty()) {
    return FailInvalid("multiline start pattern " + JsonQuote(pattern) + " has " + why +
                       ", which could stall shipping for every container: simplify it");
  }
  regex_t re;
  int rc = regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &re, msg, sizeof msg);
    return FailInvalid("multiline start pattern " + JsonQuote(pattern) + ": " + msg +
                       " (use a POSIX extended regular expression)");
  }
  regfree(&re);
  return {};
}

Result<std::unique_ptr<LineJoiner>> LineJoiner::Make(const MultilineOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  if (impl->opts.max_lines == 0) impl->opts.max_lines = 1;
  if (!opts.start_pattern.empty()) TRY(CheckStartPattern(opts.start_pattern));
  if (!opts.start_pattern.empty()) {
    int rc = regcomp(&impl->re, opts.start_pattern.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char msg[256];
      regerror(rc, &impl->re, msg, sizeof msg);
      return FailInvalid("multiline start pattern " + JsonQuote(opts.start_pattern) + ": " + msg +
                         " (use a POSIX extended regular expression)");
    }
    impl->has_re = true;
  }
  return std::unique_ptr<LineJoiner>(new LineJoiner(std::move(impl)));
}

LineJoiner::LineJoiner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LineJoiner::~LineJoiner() = default;

bool LineJoiner::pending() const {
  return impl_->pending;
}

void LineJoiner::Add(int64_t time_ns, Stream stream, uint32_t source, std::string_view line, const Emit& emit) {
  Impl& m = *impl_;
  if (!m.has_re) {
    m.Begin(time_ns, stream, source, line);
    m.EmitPending(emit);
    return;
  }
  // A line that matches starts an event; so does any line when nothing is
  // pending (the stream's first line, or the one after a flush) and a line
  // that would push the event past max_bytes.
  // A continuation after a silence longer than flush_after_ns would have
  // been flushed had Flush run in between: behave the same either way.
  if (m.pending && time_ns - m.last_line_ns >= m.opts.flush_after_ns) m.EmitPending(emit);
  bool starts = !m.pending || m.Starts(line) || m.event.text.size() + 1 + line.size() > m.opts.max_bytes;
  if (starts) {
    m.EmitPending(emit);
    m.Begin(time_ns, stream, source, line);
  } else {
    m.event.text.push_back('\n');
    m.event.text.append(line);
    ++m.lines;
    m.last_line_ns = time_ns;
  }
  if (m.lines >= m.opts.max_lines || m.event.text.size() >= m.opts.max_bytes) m.EmitPending(emit);
}

void LineJoiner::Flush(int64_t now_ns, bool force, const Emit& emit) {
  Impl& m = *impl_;
  if (!m.pending) return;
  if (force || now_ns - m.last_line_ns >= m.opts.flush_after_ns) m.EmitPending(emit);
}

namespace {

// Deepest nesting of objects/arrays in JSON-ish text (strings skipped), so
// the parser never sees a document deeper than the limit.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t k = 0; k < text.size(); ++k) {
    char c = text[k];
    if (in_string) {
      if (c == '\\') {
        ++k;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

std::optional<std::string> ParseAppJson(std::string_view text) {
  constexpr size_t kMaxBytes = 64 << 10;
  constexpr int kMaxDepth = 32;
  text = Trim(text);
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  if (text.size() > kMaxBytes) return std::nullopt;
  if (NestingDepth(text, kMaxDepth) > kMaxDepth) return std::nullopt;
  auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace moor::logship
