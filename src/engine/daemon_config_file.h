// The daemon's JSON config file (--config-file, /etc/moor/daemon.json): every
// key is a `moor daemon` flag without its dashes, so file and flags share one
// parser and one set of checks (docs/engine.md).
//   {"log-output": ["logstash://10.0.0.5:5044"], "log-disk-budget": "2g",
//    "metrics-addr": "10.0.0.2:9323", "mtu": 1450, "debug": true}
// A repeatable flag takes an array (or one value); a flag without a value
// takes true (false = absent). Also "masquerade": false (= --no-masquerade)
// and "runtimes": {"NAME": "PATH" | {"path": "PATH"}} (= --add-runtime), as
// Docker's daemon.json spells them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime_cli/args.h"

namespace moor::engine {

// The file's settings as flags ("--name", "value", …), to be parsed before
// the command line's. A key also given on the command line is refused (as
// dockerd does), as are unknown keys and values of the wrong kind; errors
// are one line naming the file and the key.
Result<std::vector<std::string>> ConfigFileFlags(const std::string& path, std::string_view text,
                                                 const std::vector<runtime_cli::FlagSpec>& specs,
                                                 const runtime_cli::ParsedArgs& command_line);

}  // namespace moor::engine
