#include "image/registry/url.h"

#include <cctype>

#include "common/base64.h"
#include "common/strings.h"

namespace moor::image::registry {

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string AppendQuery(std::string_view url, std::string_view key, std::string_view value) {
  std::string_view fragment;
  if (size_t hash = url.find('#'); hash != std::string_view::npos) {
    fragment = url.substr(hash);
    url = url.substr(0, hash);
  }
  std::string out(url);
  if (out.find('?') == std::string::npos) {
    out += '?';
  } else if (out.back() != '?' && out.back() != '&') {
    out += '&';
  }
  out += UrlEncode(key);
  out += '=';
  out += UrlEncode(value);
  out += fragment;
  return out;
}

std::string UrlOrigin(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "";
  size_t path = url.find_first_of("/?#", sep + 3);
  return std::string(url.substr(0, path));
}

std::string ResolveLocation(std::string_view request_url, std::string_view location) {
  location = Trim(location);
  if (location.find("://") != std::string_view::npos) return std::string(location);
  std::string origin = UrlOrigin(request_url);
  if (StartsWith(location, "//")) {
    return std::string(request_url.substr(0, request_url.find("://") + 1)) + std::string(location);
  }
  if (StartsWith(location, "/")) return origin + std::string(location);
  // Relative to the directory of the request path (query dropped).
  std::string_view base = request_url.substr(0, request_url.find_first_of("?#"));
  size_t slash = base.rfind('/');
  if (slash == std::string_view::npos || slash < origin.size()) return origin + "/" + std::string(location);
  return std::string(base.substr(0, slash + 1)) + std::string(location);
}

std::string RepositoryScope(std::string_view path, bool push) {
  return "repository:" + std::string(path) + (push ? ":pull,push" : ":pull");
}

std::string Base64Encode(std::string_view s) { return moor::Base64Encode(s); }

bool Base64Decode(std::string_view s, std::string& out) {
  // Lenient where Docker's config files are: surrounding blanks, missing padding.
  std::string in(Trim(s));
  while (in.size() % 4 != 0) in += '=';
  return moor::Base64Decode(in, &out);
}

}  // namespace moor::image::registry
