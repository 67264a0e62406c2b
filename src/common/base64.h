// Base64 with the standard alphabet and padding (RFC 4648 section 4): registry
// credentials, Docker's config.json, Consul's KV values in JSON.
#pragma once

#include <string>
#include <string_view>

namespace moor {

std::string Base64Encode(std::string_view s);
// Strict: padded input of the standard alphabet only; false otherwise.
bool Base64Decode(std::string_view s, std::string* out);

}  // namespace moor
