// URL pieces the registry protocol needs: percent-encoding of query values,
// appending query parameters to URLs that may already carry a query (upload
// Locations do), resolving a Location header against the request URL, and
// OAuth-style scope strings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moor::image::registry {

// Percent-encodes everything outside RFC 3986 "unreserved".
std::string UrlEncode(std::string_view s);
// url + ("?" or "&") + key=UrlEncode(value); a "#fragment" stays last.
std::string AppendQuery(std::string_view url, std::string_view key, std::string_view value);
// Location may be absolute ("https://h/x"), host-relative ("/v2/…") or
// path-relative ("uploads/x"); the result is always absolute.
std::string ResolveLocation(std::string_view request_url, std::string_view location);
// "scheme://host[:port]" of an absolute URL ("" when not absolute).
std::string UrlOrigin(std::string_view url);

// "repository:<path>:<actions>" with actions "pull" or "pull,push".
std::string RepositoryScope(std::string_view path, bool push);

// Base64 (standard alphabet, padded) for Basic credentials and docker config.
std::string Base64Encode(std::string_view s);
// Tolerates missing padding and surrounding whitespace; false on bad input.
bool Base64Decode(std::string_view s, std::string& out);

}  // namespace moor::image::registry
