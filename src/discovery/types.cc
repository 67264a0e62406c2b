#include "discovery/types.h"

namespace moor::discovery {

std::string_view HealthName(Health h) {
  switch (h) {
    case Health::kPassing:
      return "passing";
    case Health::kWarning:
      return "warning";
    case Health::kCritical:
      return "critical";
  }
  return "critical";
}

std::optional<Health> ParseHealth(std::string_view s) {
  if (s == "passing") return Health::kPassing;
  if (s == "warning") return Health::kWarning;
  if (s == "critical") return Health::kCritical;
  return std::nullopt;
}

std::string SanitizeServiceName(std::string_view s) {
  // A DNS label: 63 bytes of [a-z0-9-], not starting or ending with '-'.
  constexpr size_t kMaxLabel = 63;
  std::string out;
  bool pending_dash = false;  // a run of other characters seen since the last kept one
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!keep) {
      pending_dash = true;
      continue;
    }
    // Leading runs are trimmed; inner runs collapse to one '-'.
    if (pending_dash && !out.empty()) out.push_back('-');
    pending_dash = false;
    out.push_back(c);
  }
  if (out.size() > kMaxLabel) out.resize(kMaxLabel);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace moor::discovery
