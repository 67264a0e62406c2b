// Which paths of a code directory a deploy leaves out: DIR/.moorignore, else
// DIR/.dockerignore (Docker's pattern rules, build::IgnoreMatcher), and `.git`
// unless a "!.git" rule brings it back. docs/design/deploy.md §1.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "build/dockerignore.h"
#include "common/error.h"

namespace moor::deploy {

struct IgnoreRules {
  build::IgnoreMatcher matcher;  // ".git" first, then the file's patterns
  std::string file;              // ".moorignore", ".dockerignore" or "" (none)
  // sha256 over the file's name and bytes: keys the hash cache (its directory
  // records hold verdicts of these rules).
  std::array<uint8_t, 32> digest{};
  // Whether the walk enters a directory the rules exclude: only when "!"
  // exceptions exist. `.git` is entered only if an exception names ".git".
  bool enter_excluded = false;
  bool enter_git = false;

  // The verdict for `path` (relative, '/'-separated).
  bool Excluded(std::string_view path) const { return matcher.Excluded(path); }
  // Whether the walk must descend into the excluded directory `path`.
  bool EnterExcluded(std::string_view path) const { return path == ".git" ? enter_git : enter_excluded; }
};

// Reads the rules from the directory open at `dir_fd` (`dir` names it in
// errors). A bad pattern is an error naming the file and the pattern.
Result<IgnoreRules> LoadIgnoreRules(int dir_fd, const std::string& dir);

}  // namespace moor::deploy
