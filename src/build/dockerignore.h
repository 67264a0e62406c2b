// .dockerignore: which context paths COPY and ADD may see, with the rules of
// Docker's pattern matcher (moby/patternmatcher):
// - one pattern a line; lines starting with '#' are comments; blanks trimmed;
// - "!pattern" re-includes what an earlier pattern excluded; the LAST pattern
//   that matches a path decides;
// - patterns are cleaned (filepath.Clean) and a leading "/" is dropped;
// - filepath.Match globs ('*' and '?' stop at '/', [classes], '\' escapes)
//   plus "**" for any number of directories ("**/x", "a/**", "a/**/b");
// - a pattern that matches a parent directory matches everything below it.
// The Dockerfile and .dockerignore themselves are always kept, as the classic
// Docker builder does (they are added back as "!" exceptions).
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor::build {

class IgnoreMatcher {
 public:
  IgnoreMatcher() = default;
  // Patterns as lines (already read); errors name the bad pattern.
  static Result<IgnoreMatcher> FromPatterns(const std::vector<std::string>& lines);
  // Reads CONTEXT/.dockerignore (absent: nothing is ignored) and keeps
  // `dockerfile_rel` (the Dockerfile's path inside the context, if it is).
  static Result<IgnoreMatcher> ForContext(const std::string& context_dir, const std::string& dockerfile_rel);

  // `path` is relative to the context root, '/'-separated, no leading "/".
  bool Excluded(std::string_view path) const;
  // True when some "!" pattern exists: an excluded directory may still hold
  // included files, so a walk must descend into it.
  bool HasExceptions() const { return has_exceptions_; }
  bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::string text;
    bool exclusion = false;  // "!pattern"
    std::shared_ptr<std::regex> re;
  };
  static Result<Pattern> Compile(std::string_view line);
  bool Matches(const Pattern& p, std::string_view path) const;

  std::vector<Pattern> patterns_;
  bool has_exceptions_ = false;
};

// filepath.Clean for '/'-separated paths ("" → ".").
std::string CleanPath(std::string_view path);
// Go filepath.Match for one path ('*' does not cross '/'); false on a bad pattern.
bool GlobMatch(std::string_view pattern, std::string_view name);

}  // namespace moor::build
