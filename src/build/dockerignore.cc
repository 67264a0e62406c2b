#include "build/dockerignore.h"

#include <optional>

#include "common/file.h"
#include "common/strings.h"

namespace moor::build {

std::string CleanPath(std::string_view path) {
  bool rooted = !path.empty() && path.front() == '/';
  std::vector<std::string> out;
  for (const auto& part : Split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
      } else if (!rooted) {
        out.push_back("..");
      }
      continue;
    }
    out.push_back(part);
  }
  std::string joined = Join(out, "/");
  if (rooted) return "/" + joined;
  return joined.empty() ? "." : joined;
}

namespace {

// Regex for one Docker ignore pattern, as patternmatcher compiles it.
Result<std::string> PatternRegex(std::string_view p) {
  std::string re = "^";
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        ++i;
        if (i + 1 < p.size() && p[i + 1] == '/') ++i;  // "**/" is "**"
        re += (i + 1 >= p.size()) ? ".*" : "(.*/)?";
      } else {
        re += "[^/]*";
      }
    } else if (c == '?') {
      re += "[^/]";
    } else if (c == '\\') {
      if (i + 1 >= p.size()) return FailInvalid("bad pattern (trailing \\)");
      char n = p[++i];
      if (std::isalnum(static_cast<unsigned char>(n))) {
        re += n;
      } else {
        re += '\\';
        re += n;
      }
    } else if (c == '[') {
      // Character class, passed to the regex as Docker does ('^' negates).
      size_t end = i + 1;
      if (end < p.size() && p[end] == '^') ++end;
      if (end < p.size() && p[end] == ']') ++end;
      while (end < p.size() && p[end] != ']') end += (p[end] == '\\' && end + 1 < p.size()) ? 2 : 1;
      if (end >= p.size()) return FailInvalid("bad pattern (unterminated [)");
      re += p.substr(i, end - i + 1);
      i = end;
    } else if (std::string_view(".+()|{}$^]").find(c) != std::string_view::npos) {
      re += '\\';
      re += c;
    } else {
      re += c;
    }
  }
  return re + "$";
}

}  // namespace

Result<IgnoreMatcher::Pattern> IgnoreMatcher::Compile(std::string_view line) {
  Pattern p;
  std::string_view s = line;
  if (!s.empty() && s.front() == '!') {
    if (s.size() == 1) return FailInvalid(".dockerignore: illegal exclusion pattern: \"!\"");
    p.exclusion = true;
    s = Trim(s.substr(1));
  }
  std::string cleaned = CleanPath(s);
  if (cleaned.size() > 1 && cleaned.front() == '/') cleaned.erase(0, 1);
  p.text = cleaned;
  auto re = PatternRegex(cleaned);
  if (!re) return FailInvalid(".dockerignore: " + std::string(line) + ": " + re.error().message());
  try {
    p.re = std::make_shared<std::regex>(*re, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return FailInvalid(".dockerignore: " + std::string(line) + ": bad pattern");
  }
  return p;
}

Result<IgnoreMatcher> IgnoreMatcher::FromPatterns(const std::vector<std::string>& lines) {
  IgnoreMatcher m;
  for (const auto& raw : lines) {
    if (!raw.empty() && raw.front() == '#') continue;
    std::string_view line = Trim(raw);
    if (line.empty()) continue;
    Pattern p = TRY(Compile(line));
    m.has_exceptions_ |= p.exclusion;
    m.patterns_.push_back(std::move(p));
  }
  return m;
}

Result<IgnoreMatcher> IgnoreMatcher::ForContext(const std::string& context_dir,
                                                const std::string& dockerfile_rel) {
  std::string path = context_dir + "/.dockerignore";
  if (!PathExists(path)) return IgnoreMatcher();
  std::string text = TRY(ReadFile(path));
  std::vector<std::string> lines = Split(text, '\n');
  IgnoreMatcher m = TRY(FromPatterns(lines));
  if (m.empty()) return m;
  // Always keep the build's own files (classic builder behaviour).
  std::vector<std::string> keep = {".dockerignore"};
  if (!dockerfile_rel.empty()) keep.push_back(dockerfile_rel);
  for (const auto& k : keep) {
    if (!m.Excluded(k)) continue;
    std::string escaped;
    for (char c : k) {
      if (std::string_view("*?[\\").find(c) != std::string_view::npos) escaped += '\\';
      escaped += c;
    }
    Pattern p = TRY(Compile("!" + escaped));
    m.has_exceptions_ = true;
    m.patterns_.push_back(std::move(p));
  }
  return m;
}

bool IgnoreMatcher::Matches(const Pattern& p, std::string_view path) const {
  return std::regex_match(path.begin(), path.end(), *p.re);
}

bool IgnoreMatcher::Excluded(std::string_view path) const {
  bool matched = false;
  size_t last_slash = path.rfind('/');
  for (const auto& p : patterns_) {
    // Only a pattern that can change the outcome needs evaluating.
    if (p.exclusion != matched) continue;
    bool match = Matches(p, path);
    // A match on any parent directory counts ("a" excludes "a/b/c").
    for (size_t pos = 0; !match && last_slash != std::string_view::npos && pos < last_slash;) {
      size_t next = path.find('/', pos);
      match = Matches(p, path.substr(0, next));
      pos = next + 1;
    }
    if (match) matched = !p.exclusion;
  }
  return matched;
}

namespace {

// One class "[...]" at p[i] (i after '['); sets `next` past ']'. nullopt: bad.
std::optional<bool> MatchClass(std::string_view p, size_t i, char c, size_t& next) {
  bool negate = false;
  if (i < p.size() && p[i] == '^') {
    negate = true;
    ++i;
  }
  bool found = false;
  bool first = true;
  while (i < p.size() && (p[i] != ']' || first)) {
    first = false;
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    ++i;
    char hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      if (p[i + 1] == '\\' && i + 2 < p.size()) {
        hi = p[i + 2];
        i += 3;
      } else {
        hi = p[i + 1];
        i += 2;
      }
    }
    if (lo <= c && c <= hi) found = true;
  }
  if (i >= p.size()) return std::nullopt;
  next = i + 1;
  return found != negate;
}

bool GlobAt(std::string_view p, std::string_view n) {
  size_t pi = 0, ni = 0;
  while (pi < p.size()) {
    char c = p[pi];
    if (c == '*') {
      while (pi < p.size() && p[pi] == '*') ++pi;
      for (size_t k = ni;; ++k) {
        if (GlobAt(p.substr(pi), n.substr(k))) return true;
        if (k >= n.size() || n[k] == '/') return false;
      }
    }
    if (ni >= n.size()) return false;
    if (c == '?') {
      if (n[ni] == '/') return false;
      ++pi;
    } else if (c == '[') {
      size_t next = 0;
      auto m = MatchClass(p, pi + 1, n[ni], next);
      if (!m || !*m || n[ni] == '/') return false;
      pi = next;
    } else {
      if (c == '\\' && pi + 1 < p.size()) c = p[++pi];
      if (c != n[ni]) return false;
      ++pi;
    }
    ++ni;
  }
  return ni == n.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view name) {
  return GlobAt(pattern, name);
}

}  // namespace moor::build
