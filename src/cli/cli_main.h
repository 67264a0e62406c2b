// The `moor` command line. Image commands work directly on the store under
// --root; container, network, volume and system commands talk to `moor
// daemon` through its API only (daemon_client.h, docs/api.md).
#pragma once

namespace moor::cli {

int CliMain(int argc, char** argv, char** envp);

}  // namespace moor::cli
