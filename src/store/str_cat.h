// Cat(): concatenates strings and integers into one std::string, for error
// messages and SQL built from trusted table names (g++ 12 has no <format>).
// Internal to the store module.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

namespace moor::store {
namespace detail {
inline void CatAppend(std::string& s, std::string_view v) {
  s.append(v);
}
inline void CatAppend(std::string& s, const char* v) {
  s.append(v);
}
inline void CatAppend(std::string& s, std::integral auto v) {
  s.append(std::to_string(v));
}
}  // namespace detail

template <class... Args>
std::string Cat(const Args&... args) {
  std::string s;
  (detail::CatAppend(s, args), ...);
  return s;
}

}  // namespace moor::store
