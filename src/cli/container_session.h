// What run, create, start -a and attach share: creating a container (pulling
// its image first when missing, as `docker run` does), running it attached
// to our terminal, and docker's exit codes for start failures.
#pragma once

#include <string>

#include "cli/container_flags.h"
#include "cli/daemon_client.h"

namespace moor::cli {

// POST /containers/create; on "no such image" pulls (unless pull == "never")
// and retries. Returns the new container's ID; prints the daemon's warnings.
Result<std::string> CreateContainer(Daemon& d, const ContainerOptions& o);
// POST /images/create?fromImage=REF, progress to stderr unless quiet.
Result<void> PullImage(Daemon& d, const std::string& ref, bool quiet);

// Attaches (stdin when `with_stdin`), optionally starts, copies the streams
// until the container's output ends, and returns its exit status.
// wait_condition: "next-exit" for a container we start, "removed" with
// AutoRemove, "" to ask inspect afterwards (attach to a running one).
Result<int> RunAttached(Daemon& d, const std::string& id, bool tty, bool with_stdin, bool start,
                        const std::string& wait_condition,
                        bool remove_if_start_fails = false);

// Docker's status for a failed start: 127 "not found", 126 "cannot execute",
// else 125; the error keeps the daemon's message.
Error StartError(Error e);

// Resolves what the user typed (name, ID or ID prefix) via inspect.
Result<nlohmann::json> InspectContainer(Daemon& d, const std::string& ref);

}  // namespace moor::cli
