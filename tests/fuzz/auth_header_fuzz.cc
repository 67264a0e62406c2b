// Fuzz target: what a registry sends back that moor parses before any
// content check — the WWW-Authenticate header (challenges with quoted,
// escaped parameters) and Location headers resolved against a request URL.
// Nothing may crash or trip a sanitizer; parsed challenges must be sane.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "image/registry/challenge.h"
#include "image/registry/url.h"

namespace {
bool IsLower(const std::string& s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& c : moor::image::registry::ParseChallenges(text)) {
    // Schemes and parameter names are case-insensitive: kept lowercase.
    if (c.scheme.empty() || !IsLower(c.scheme)) std::abort();
    for (const auto& [k, v] : c.params) {
      if (k.empty() || !IsLower(k)) std::abort();
      (void)v;
    }
  }
  auto resolved = moor::image::registry::ResolveLocation("https://127.0.0.1:5000/v2/a/b/blobs/uploads/", text);
  (void)moor::image::registry::AppendQuery(resolved, "digest", "sha256:0");
  (void)moor::image::registry::UrlOrigin(text);
  return 0;
}
