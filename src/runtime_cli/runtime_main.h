// moor-runtime's command line (runc-compatible), dispatched to runtime/ops.h.
#pragma once

namespace moor::runtime_cli {

// argv/envp are needed to re-exec from a sealed memfd (self_exe.h).
int RuntimeMain(int argc, char** argv, char** envp);

}  // namespace moor::runtime_cli
