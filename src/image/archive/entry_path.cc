#include "image/archive/entry_path.h"

#include <vector>

namespace moor::image {

Result<std::string> CleanEntryPath(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) return FailInvalid("entry name contains a NUL byte");
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view part = name.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return FailInvalid("entry \"" + std::string(name) + "\" points outside the layer root");
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

SplitPath SplitParent(const std::string& clean) {
  size_t slash = clean.rfind('/');
  if (slash == std::string::npos) return {"", clean};
  return {clean.substr(0, slash), clean.substr(slash + 1)};
}

}  // namespace moor::image
