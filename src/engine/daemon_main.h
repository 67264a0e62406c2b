// `moor daemon`: parses its flags, opens the engine, serves the API on the
// unix socket until SIGTERM/SIGINT. Containers keep running after it exits.
#pragma once

#include <string>
#include <vector>

namespace moor::engine {

// args: the words after "daemon". Returns the process exit code.
int DaemonMain(const std::vector<std::string>& args);

}  // namespace moor::engine
