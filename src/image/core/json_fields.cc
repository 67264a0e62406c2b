#include "image/core/json_fields.h"

namespace moor::image::detail {

Result<json> ParseJsonText(std::string_view text, std::string_view what) {
  // Non-throwing parse; the exception handler below only guards against the
  // library throwing anyway (it must never escape this module).
  try {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return FailInvalid(std::string(what) + ": not valid JSON");
    return j;
  } catch (const std::exception& e) {
    return FailInvalid(std::string(what) + ": not valid JSON: " + e.what());
  }
}

std::string DumpCanonical(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Fields::Field(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const json* Fields::Get(std::string_view key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<void> Fields::Str(std::string_view key, std::string& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (!v->is_string()) return Bad(key, "expected a string");
  out = v->get<std::string>();
  return {};
}

Result<void> Fields::RequiredStr(std::string_view key, std::string& out) const {
  if (!Get(key)) return Missing(key);
  TRY(Str(key, out));
  if (out.empty()) return Bad(key, "must not be empty");
  return {};
}

Result<void> Fields::Int64(std::string_view key, int64_t& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (!v->is_number_integer()) return Bad(key, "expected an integer");
  if (v->is_number_unsigned() &&
      v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Bad(key, "value out of range");
  }
  out = v->get<int64_t>();
  return {};
}

Result<void> Fields::Int(std::string_view key, int& out) const {
  int64_t wide = 0;
  if (!Get(key)) return {};
  TRY(Int64(key, wide));
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    return Bad(key, "value out of range");
  }
  out = static_cast<int>(wide);
  return {};
}

Result<void> Fields::Bool(std::string_view key, bool& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (!v->is_boolean()) return Bad(key, "expected true or false");
  out = v->get<bool>();
  return {};
}

Result<void> Fields::Strings(std::string_view key, std::vector<std::string>& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (!v->is_array()) return Bad(key, "expected an array of strings");
  out.clear();
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      return FailInvalid(Field(key) + "[" + std::to_string(i) + "]: expected a string");
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return {};
}

Result<void> Fields::OptStrSlice(std::string_view key, std::optional<std::vector<std::string>>& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (v->is_string()) {
    out = std::vector<std::string>{v->get<std::string>()};
    return {};
  }
  std::vector<std::string> items;
  TRY(Strings(key, items));
  out = std::move(items);
  return {};
}

Result<void> Fields::StringMap(std::string_view key, std::map<std::string, std::string>& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (!v->is_object()) return Bad(key, "expected an object of strings");
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) return FailInvalid(Field(key) + "." + it.key() + ": expected a string");
    out[it.key()] = it->get<std::string>();
  }
  return {};
}

Result<void> Fields::KeySet(std::string_view key, std::vector<std::string>& out) const {
  const json* v = Get(key);
  if (!v) return {};
  if (!v->is_object()) return Bad(key, "expected an object");
  out.clear();
  // Object keys come sorted and unique from the std::map-backed object.
  for (auto it = v->begin(); it != v->end(); ++it) out.push_back(it.key());
  return {};
}

Result<void> Fields::RequiredDigest(std::string_view key, Digest& out) const {
  const json* v = Get(key);
  if (!v) return Missing(key);
  if (!v->is_string()) return Bad(key, "expected a digest string");
  auto d = Digest::Parse(v->get<std::string>());
  if (!d) return Fail(std::move(d.error()).Wrap(Field(key)));
  out = *d;
  return {};
}

}  // namespace moor::image::detail
