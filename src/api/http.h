// HTTP/1.1 messages as moor's API server and client see them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moor::api {

// Header names are compared case-insensitively; stored lower-case.
using Headers = std::map<std::string, std::string>;

struct Request {
  std::string method;  // "GET", "POST", …
  std::string target;  // as sent: "/containers/abc/logs?tail=10"
  std::string path;    // percent-decoded path without the query: "/containers/abc/logs"
  std::multimap<std::string, std::string> query;  // percent-decoded
  Headers headers;
  std::string body;
  // Filled by the router from "{name}" segments of the matched pattern.
  std::map<std::string, std::string> params;

  // First value of a query parameter, or nullopt.
  std::optional<std::string> Query(const std::string& key) const;
  // Every value of a repeated query parameter, in order.
  std::vector<std::string> QueryAll(const std::string& key) const;
  // Query flag as Docker reads it (httputils.BoolValue): absent → def; "",
  // "0", "no", "false", "none" (any case) → false; anything else ("1", "true") → true.
  bool QueryBool(const std::string& key, bool def = false) const;
  std::string Param(const std::string& name) const;
};

struct Response {
  int status = 200;
  Headers headers;  // lower-case names; content-length is set by the sender
  std::string body;
};

// "a%20b" → "a b"; '+' stays '+'. Invalid escapes are kept verbatim.
std::string PercentDecode(std::string_view s);
// Encodes everything except unreserved characters (RFC 3986) and '/'.
std::string PercentEncode(std::string_view s);
// Splits "a=1&b=%20" into decoded pairs. As in form encoding (Go's url.Values,
// which the docker CLI sends), '+' in the query means a space.
std::multimap<std::string, std::string> ParseQuery(std::string_view q);
// Standard reason phrase ("OK", "Not Found", …).
const char* ReasonPhrase(int status);

}  // namespace moor::api
