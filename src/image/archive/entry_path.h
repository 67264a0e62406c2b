// Lexical cleaning of tar entry names. Layers in the wild carry "./a",
// "/abs", "a//b" and "a/./b"; all of them name a path inside the root. A name
// whose ".." climbs above the root is hostile and is rejected.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::image {

// "./a//b/" → "a/b"; "/etc/x" → "etc/x"; "a/../b" → "b"; "." or "/" → ""
// (the root itself). Error when ".." escapes the root or the name has a NUL.
Result<std::string> CleanEntryPath(std::string_view name);

struct SplitPath {
  std::string parent;  // "" for entries directly in the root
  std::string base;
};
// REQUIRES: clean is a non-empty CleanEntryPath() result.
SplitPath SplitParent(const std::string& clean);

}  // namespace moor::image
