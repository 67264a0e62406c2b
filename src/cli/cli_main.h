// The `moor` command line. Until the engine's daemon exists (issue 4) the
// image commands work directly on the store under --root; `moor run` runs an
// image in the foreground through the runtime library.
#pragma once

namespace moor::cli {

int CliMain(int argc, char** argv, char** envp);

}  // namespace moor::cli
