#include "monitor/oom.h"

#include "common/file.h"
#include "common/strings.h"

namespace moor::monitor {

std::optional<int64_t> ParseOomKillCount(std::string_view content) {
  for (const std::string& line : Split(content, '\n')) {
    std::string_view l = Trim(line);
    constexpr std::string_view kKey = "oom_kill ";
    if (!StartsWith(l, kKey)) continue;
    if (auto v = ParseInt(Trim(l.substr(kKey.size())))) return *v;
  }
  return std::nullopt;
}

int64_t ReadOomKillCount(const std::string& path) {
  if (path.empty()) return 0;
  auto text = ReadFile(path);
  if (!text) return 0;
  return ParseOomKillCount(*text).value_or(0);
}

}  // namespace moor::monitor
