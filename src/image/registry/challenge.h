// WWW-Authenticate parsing (RFC 7235): one header may carry several
// challenges, and parameter values may be quoted strings containing commas
// and backslash escapes:
//   Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"
//   Basic realm="Registry Realm", Bearer realm="…"
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace moor::image::registry {

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lowercase, values unquoted

  std::string Param(const std::string& key) const {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  }
};

// Challenges in header order; malformed pieces are skipped, never fatal.
std::vector<Challenge> ParseChallenges(std::string_view header);

}  // namespace moor::image::registry
