// Runs a helper program (an OCI runtime command such as `pause`, `ps`,
// `update`) to completion and captures its output. Used off the hot path.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace moor::engine {

struct ToolResult {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string out, err;
};

// posix_spawn with stdin from `input`, stdout/stderr captured.
Result<ToolResult> RunTool(const std::vector<std::string>& argv, const std::string& input = {});

// RunTool, then an error carrying the tool's last stderr line when it failed.
Result<std::string> RunToolChecked(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace moor::engine
