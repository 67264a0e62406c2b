#include "engine/daemon_config_file.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace moor::engine {
namespace {

using nlohmann::json;

const runtime_cli::FlagSpec* FindSpec(const std::vector<runtime_cli::FlagSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

// A scalar as the flag's text: strings as they are, whole numbers without a
// fraction. Anything else is not a flag value.
bool ScalarText(const json& v, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return true;
  }
  if (v.is_number_integer() || v.is_number_unsigned()) {
    *out = v.dump();
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d != std::floor(d) || std::fabs(d) > 9e15) return false;
    *out = std::to_string(static_cast<long long>(d));
    return true;
  }
  return false;
}

}  // namespace

Result<std::vector<std::string>> ConfigFileFlags(const std::string& path, std::string_view text,
                                                 const std::vector<runtime_cli::FlagSpec>& specs,
                                                 const runtime_cli::ParsedArgs& command_line) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return FailInvalid(path + ": not valid JSON (" + e.what() + "): fix the file or pass --config-file another");
  }
  if (!j.is_object()) return FailInvalid(path + ": must be a JSON object of settings, like {\"mtu\": 1450}");
  std::vector<std::string> out;
  auto given_twice = [&](const std::string& key, const std::string& flag) {
    return FailInvalid(path + ": \"" + key + "\" is also given as --" + flag + ": set it in one place");
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "masquerade") {
      if (!v.is_boolean()) return FailInvalid(path + ": \"masquerade\" must be true or false");
      if (command_line.Has("no-masquerade")) return given_twice(key, "no-masquerade");
      if (!v.get<bool>()) out.push_back("--no-masquerade");
      continue;
    }
    if (key == "runtimes") {
      if (!v.is_object()) return FailInvalid(path + ": \"runtimes\" must map names to paths, like {\"runc\": \"/usr/bin/runc\"}");
      if (command_line.Has("add-runtime")) return given_twice(key, "add-runtime");
      for (const auto& [name, r] : v.items()) {
        std::string p = r.is_string() ? r.get<std::string>() : r.is_object() ? r.value("path", "") : "";
        if (p.empty()) return FailInvalid(path + ": runtime \"" + name + "\" needs a path");
        out.push_back("--add-runtime");
        out.push_back(name + "=" + p);
      }
      continue;
    }
    const runtime_cli::FlagSpec* spec = FindSpec(specs, key);
    if (spec == nullptr || key == "config-file" || key == "help") {
      return FailInvalid(path + ": unknown setting \"" + key + "\": settings are moor daemon's flags without the dashes (moor daemon --help)");
    }
    if (command_line.Has(key)) return given_twice(key, key);
    // Two names of one setting: the store's directory.
    if (key == "root" && command_line.Has("data-root")) return given_twice(key, "data-root");
    if (key == "data-root" && command_line.Has("root")) return given_twice(key, "root");
    if (!spec->takes_value) {
      if (!v.is_boolean()) return FailInvalid(path + ": \"" + key + "\" must be true or false");
      if (v.get<bool>()) out.push_back("--" + key);
      continue;
    }
    std::vector<json> items;
    if (v.is_array()) {
      if (!spec->repeatable) return FailInvalid(path + ": \"" + key + "\" takes one value, not a list");
      items.assign(v.begin(), v.end());
    } else {
      items.push_back(v);
    }
    for (const auto& item : items) {
      std::string s;
      if (!ScalarText(item, &s)) {
        return FailInvalid(path + ": \"" + key + "\" must be a string or a whole number, not " + item.dump());
      }
      out.push_back("--" + key);
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace moor::engine
