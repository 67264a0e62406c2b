#include "runtime_cli/args.h"

namespace moor::runtime_cli {

std::string ParsedArgs::Get(const std::string& name, const std::string& def) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return def;
  return it->second.back();
}

const std::vector<std::string>& ParsedArgs::All(const std::string& name) const {
  static const std::vector<std::string> kEmpty;
  auto it = values.find(name);
  return it == values.end() ? kEmpty : it->second;
}

bool ParsedArgs::Bool(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return false;
  const std::string& v = it->second.empty() ? std::string() : it->second.back();
  return v.empty() || v == "true" || v == "1";
}

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, size_t begin, const std::vector<FlagSpec>& specs,
                             bool stop_at_positional, size_t* end) {
  ParsedArgs out;
  size_t i = begin;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (stop_at_positional) break;
      out.positional.push_back(a);
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body = body.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == body || (!s.short_name.empty() && s.short_name == body)) spec = &s;
    if (!spec) return FailInvalid("unknown flag \"" + a + "\"; see --help");
    if (spec->takes_value && !has_value) {
      if (i + 1 >= args.size()) return FailInvalid("flag \"" + a + "\" needs a value");
      value = args[++i];
    }
    auto& slot = out.values[spec->name];
    if (!spec->repeatable) slot.clear();
    slot.push_back(value);
  }
  if (end) *end = i;
  for (; i < args.size(); ++i) out.positional.push_back(args[i]);
  return out;
}

}  // namespace moor::runtime_cli
