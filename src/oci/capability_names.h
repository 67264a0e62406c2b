// Linux capability names as in config.json ("CAP_NET_BIND_SERVICE") ↔ numbers.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace moor::oci {

// Number of the named capability, or nullopt if the name is unknown.
std::optional<int> CapabilityFromName(std::string_view name);
// "CAP_CHOWN" for 0 …; nullptr for an unknown number.
const char* CapabilityName(int cap);
// Highest capability number this table knows.
int LastKnownCapability();
// Docker's default set (14 capabilities), by name.
const std::vector<std::string_view>& DefaultCapabilities();

}  // namespace moor::oci
