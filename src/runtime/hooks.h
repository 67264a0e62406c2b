// OCI lifecycle hooks: each hook is exec'd with the container state JSON on
// its stdin; a non-zero exit or a timeout fails the hook.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime {

// Runs the hooks in order; stops at the first failure. `phase` names them in
// errors ("createRuntime hook /usr/bin/x: exit status 3").
Result<void> RunHooks(const std::vector<oci::Hook>& hooks, const std::string& state_json, std::string_view phase);

}  // namespace moor::runtime
