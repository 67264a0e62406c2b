// The daemon's deploy service, started by `moor daemon` (an extension of
// engine::DaemonMain): the release store and ledger under ROOT/deploy, its
// routes on the socket, the remote TLS endpoint (--deploy-addr), and the
// recovery of interrupted deploys once the API is served. Containers are
// driven through the daemon's own API (DaemonAppBackend), as `moor up` does.
#pragma once

#include "engine/daemon_main.h"

namespace moor::cli {

engine::DaemonExtensionFactory DeployExtension();

}  // namespace moor::cli
