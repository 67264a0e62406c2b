// Shared by the parser and the validator of the app file (not a public API).
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/app_file.h"

namespace moor::app::detail {

Pos PosOf(const YAML::Node& n);

struct Ctx {
  std::string file;  // as given, for messages
  std::string dir;   // absolute directory of the file
  std::vector<Diagnostic>* errors = nullptr;

  void Error(Pos p, std::string message, std::string hint = "") const {
    if (hint.empty()) hint = TypeHint(message);
    errors->push_back(Diagnostic{file, p, std::move(message), std::move(hint)});
  }
  // A hint for "expected X, found Y" messages given none.
  static std::string TypeHint(const std::string& message) {
    if (message.find("expected a whole number") != std::string::npos)
      return "write one number in that range, without quotes or brackets";
    if (message.find("expected a number") != std::string::npos) return "write one number, e.g. 0.5";
    if (message.find("expected a string") != std::string::npos)
      return "write one value (quote it if YAML would read it as something else)";
    if (message.find("expected a mapping") != std::string::npos) return "indent KEY: VALUE lines under it";
    if (message.find("expected a list") != std::string::npos) return "write [a, b] or one \"- item\" per line";
    if (message.find("expected true or false") != std::string::npos) return "write true or false";
    if (message.find(": expected ") != std::string::npos) return "docs/moor-yaml.md lists the forms this key takes";
    return "";
  }
  void Error(const YAML::Node& n, std::string message, std::string hint = "") const {
    Error(PosOf(n), std::move(message), std::move(hint));
  }
};

// Everything parsed, before profiles are applied.
struct ParsedFile {
  AppFile app;  // services: all of them
  std::set<std::string> declared_volumes;
  std::set<std::string> declared_networks;
};

// Cross-service checks on the parsed file; `enabled` are the services the
// active profiles select. Appends to ctx.errors.
void Validate(const Ctx& ctx, const ParsedFile& parsed, const std::set<std::string>& enabled);

// Compose-style ${VAR} interpolation of every value (not keys), in place.
void Interpolate(const Ctx& ctx, YAML::Node root);

size_t EditDistance(std::string_view a, std::string_view b);
// The closest candidate within edit distance 2, or "".
std::string Closest(std::string_view word, const std::vector<std::string_view>& candidates);
bool IsDnsLabel(std::string_view s);

}  // namespace moor::app::detail
