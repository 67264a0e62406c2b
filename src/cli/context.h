// What every command gets: global options and the output streams.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "image/image_service.h"
#include "runtime_cli/args.h"

namespace moor::cli {

struct Globals {
  std::string root;  // --root (default /var/lib/moor)
  bool debug = false;
  image::RegistryOptions registry;  // --cert-dir, --insecure-registry, --docker-config
  char** argv = nullptr;
  char** envp = nullptr;
};

using runtime_cli::FlagSpec;
using runtime_cli::ParsedArgs;

// One subcommand: args are what follows its name.
using Command = Result<int> (*)(const Globals& g, const std::vector<std::string>& args);

Result<image::ImageService> OpenImages(const Globals& g);
// Parses flags and positionals mixed ("-t x . --no-cache").
Result<ParsedArgs> ParseCommand(const std::vector<std::string>& args, std::vector<FlagSpec> specs,
                                bool stop_at_positional = false);
void Out(const std::string& s);  // stdout, best effort

// Image commands (cmd_image.cc, cmd_transfer.cc, cmd_registry.cc).
Result<int> CmdPull(const Globals&, const std::vector<std::string>&);
Result<int> CmdPush(const Globals&, const std::vector<std::string>&);
Result<int> CmdLogin(const Globals&, const std::vector<std::string>&);
Result<int> CmdLogout(const Globals&, const std::vector<std::string>&);
Result<int> CmdImages(const Globals&, const std::vector<std::string>&);
Result<int> CmdInspect(const Globals&, const std::vector<std::string>&);
Result<int> CmdRmi(const Globals&, const std::vector<std::string>&);
Result<int> CmdTag(const Globals&, const std::vector<std::string>&);
Result<int> CmdHistory(const Globals&, const std::vector<std::string>&);
Result<int> CmdPrune(const Globals&, const std::vector<std::string>&);
Result<int> CmdLoad(const Globals&, const std::vector<std::string>&);
Result<int> CmdSave(const Globals&, const std::vector<std::string>&);
Result<int> CmdImport(const Globals&, const std::vector<std::string>&);
// cmd_build.cc, cmd_run.cc
Result<int> CmdBuild(const Globals&, const std::vector<std::string>&);
Result<int> CmdRun(const Globals&, const std::vector<std::string>&);

}  // namespace moor::cli
