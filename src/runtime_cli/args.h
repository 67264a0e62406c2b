// runc-style command-line parsing: flags (--name value, --name=value, -n
// value, boolean --flag) up to the first positional argument or "--"; the
// rest are positional. Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::runtime_cli {

struct FlagSpec {
  std::string name;         // long name without dashes: "bundle"
  std::string short_name;   // "b" or ""
  bool takes_value = false;
  bool repeatable = false;  // --env A --env B
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // by long name
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  // Last value given, or `def`.
  std::string Get(const std::string& name, const std::string& def = "") const;
  const std::vector<std::string>& All(const std::string& name) const;
  // Boolean flag: present without value, or =true/=1.
  bool Bool(const std::string& name) const;
};

// Parses args[begin…] against `specs`. Stops at the first positional when
// `stop_at_positional` (everything after it is positional).
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, size_t begin, const std::vector<FlagSpec>& specs,
                             bool stop_at_positional, size_t* end = nullptr);

}  // namespace moor::runtime_cli
