// `moor run` / `moor create` flags → the create body of docs/api.md
// (POST /containers/create). Pure apart from reading --env-file files, the
// environment (for "-e NAME" without a value) and the working directory
// (relative bind sources). Every bad value is a one-line error; the command
// turns it into exit status 125 as docker does.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/context.h"
#include "common/error.h"

namespace moor::cli {

struct ContainerOptions {
  nlohmann::json body;  // the create body: Image, Cmd, …, HostConfig, NetworkingConfig
  std::string name;     // --name ("" lets the daemon pick one)
  std::string image;
  bool detach = false;           // -d (run only)
  bool interactive = false;      // -i
  bool tty = false;              // -t
  bool auto_remove = false;      // --rm
  std::string pull = "missing";  // --pull missing|always|never (run only)
  bool quiet = false;            // -q: no pull progress (run only)
};

// The flag table; `run` adds -d, --pull and -q.
std::vector<FlagSpec> ContainerFlagSpecs(bool run);
// Parses "[OPTIONS] IMAGE [COMMAND [ARG...]]".
Result<ContainerOptions> ParseContainerArgs(const std::vector<std::string>& args, bool run);

// Pieces the update command and tests share.
// "8080:80/udp" etc. → adds to ExposedPorts and PortBindings.
Result<void> AddPublish(const std::string& spec, nlohmann::json& exposed, nlohmann::json& bindings);
// "no" | "on-failure[:N]" | "always" | "unless-stopped" → {"Name","MaximumRetryCount"}.
Result<nlohmann::json> ParseRestartPolicy(const std::string& s);
// "-v SRC:DST[:OPTS]" → either a Binds string (bind or named volume) or, for
// an anonymous volume ("/data"), a Mounts entry. Exactly one is filled.
Result<void> AddVolume(const std::string& spec, nlohmann::json& binds, nlohmann::json& mounts);
// "--mount type=bind,source=/a,target=/b,readonly" → a Mounts entry.
Result<nlohmann::json> ParseMount(const std::string& spec);

}  // namespace moor::cli
