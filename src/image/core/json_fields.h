// Shared by the image modules (not a public API): typed reads from a parsed JSON object that name the
// JSON path of the offending field in every error ("layers[2].size: …").
// A null field counts as absent, as Go's encoding/json treats it.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::image::detail {

using nlohmann::json;

// Parses text without exceptions; errors carry the parser's position.
Result<json> ParseJsonText(std::string_view text, std::string_view what);
// Serialises with sorted keys (nlohmann objects are std::map), no whitespace;
// invalid UTF-8 is replaced rather than thrown.
std::string DumpCanonical(const json& j);

class Fields {
 public:
  Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string Field(std::string_view key) const;
  // nullptr when absent or null.
  const json* Get(std::string_view key) const;

  std::unexpected<Error> Bad(std::string_view key, std::string_view what) const {
    return FailInvalid(Field(key) + ": " + std::string(what));
  }
  std::unexpected<Error> Missing(std::string_view key) const { return Bad(key, "missing"); }

  Result<void> Str(std::string_view key, std::string& out) const;
  Result<void> RequiredStr(std::string_view key, std::string& out) const;
  Result<void> Int64(std::string_view key, int64_t& out) const;
  Result<void> Int(std::string_view key, int& out) const;
  Result<void> Bool(std::string_view key, bool& out) const;
  Result<void> Strings(std::string_view key, std::vector<std::string>& out) const;
  // Docker's strslice: an array of strings, or one string meaning a one-element array.
  Result<void> OptStrSlice(std::string_view key, std::optional<std::vector<std::string>>& out) const;
  Result<void> StringMap(std::string_view key, std::map<std::string, std::string>& out) const;
  // Keys of an object whose values are ignored ({"80/tcp": {}}).
  Result<void> KeySet(std::string_view key, std::vector<std::string>& out) const;
  Result<void> RequiredDigest(std::string_view key, Digest& out) const;

  // fn(Fields) for the object at key; `required` makes absence an error.
  template <class Fn>
  Result<void> Child(std::string_view key, bool required, Fn&& fn) const {
    const json* v = Get(key);
    if (!v) return required ? Missing(key) : Result<void>{};
    if (!v->is_object()) return Bad(key, "expected an object");
    return fn(Fields(*v, Field(key)));
  }
  // fn(Fields) for each object of the array at key.
  template <class Fn>
  Result<void> Each(std::string_view key, bool required, Fn&& fn) const {
    const json* v = Get(key);
    if (!v) return required ? Missing(key) : Result<void>{};
    if (!v->is_array()) return Bad(key, "expected an array");
    for (size_t i = 0; i < v->size(); ++i) {
      std::string p = Field(key) + "[" + std::to_string(i) + "]";
      if (!(*v)[i].is_object()) return FailInvalid(p + ": expected an object");
      TRY(fn(Fields((*v)[i], p)));
    }
    return {};
  }

 private:
  const json& j_;
  std::string path_;
};

}  // namespace moor::image::detail
