// What every command gets: global options and the output streams.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/image_service.h"
#include "runtime_cli/args.h"

namespace moor::cli {

struct Globals {
  std::string root;  // --root (default /var/lib/moor)
  std::string host;  // --host / -H (else $MOOR_HOST, else unix:///run/moor/moor.sock)
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
// cmd_build.cc
Result<int> CmdBuild(const Globals&, const std::vector<std::string>&);

// Container commands, through the daemon's API (daemon_client.h).
// cmd_run.cc
Result<int> CmdRun(const Globals&, const std::vector<std::string>&);
Result<int> CmdCreate(const Globals&, const std::vector<std::string>&);
// cmd_lifecycle.cc
Result<int> CmdStart(const Globals&, const std::vector<std::string>&);
Result<int> CmdStop(const Globals&, const std::vector<std::string>&);
Result<int> CmdRestart(const Globals&, const std::vector<std::string>&);
Result<int> CmdKill(const Globals&, const std::vector<std::string>&);
Result<int> CmdRm(const Globals&, const std::vector<std::string>&);
Result<int> CmdPause(const Globals&, const std::vector<std::string>&);
Result<int> CmdUnpause(const Globals&, const std::vector<std::string>&);
Result<int> CmdRename(const Globals&, const std::vector<std::string>&);
Result<int> CmdWait(const Globals&, const std::vector<std::string>&);
Result<int> CmdUpdate(const Globals&, const std::vector<std::string>&);
Result<int> CmdContainerPrune(const Globals&, const std::vector<std::string>&);
// cmd_ps.cc, cmd_logs.cc, cmd_exec.cc, cmd_ctr_inspect.cc, cmd_stats.cc, cmd_cp.cc, cmd_events.cc
Result<int> CmdPs(const Globals&, const std::vector<std::string>&);
Result<int> CmdLogs(const Globals&, const std::vector<std::string>&);
Result<int> CmdExec(const Globals&, const std::vector<std::string>&);
Result<int> CmdAttach(const Globals&, const std::vector<std::string>&);
Result<int> CmdInspectAny(const Globals&, const std::vector<std::string>&);  // containers, then images
Result<int> CmdContainerInspect(const Globals&, const std::vector<std::string>&);
Result<int> CmdTop(const Globals&, const std::vector<std::string>&);
Result<int> CmdStats(const Globals&, const std::vector<std::string>&);
Result<int> CmdCp(const Globals&, const std::vector<std::string>&);
Result<int> CmdEvents(const Globals&, const std::vector<std::string>&);
// cmd_network.cc
Result<int> CmdNetworkCreate(const Globals&, const std::vector<std::string>&);
Result<int> CmdNetworkLs(const Globals&, const std::vector<std::string>&);
Result<int> CmdNetworkInspect(const Globals&, const std::vector<std::string>&);
Result<int> CmdNetworkRm(const Globals&, const std::vector<std::string>&);
Result<int> CmdNetworkConnect(const Globals&, const std::vector<std::string>&);
Result<int> CmdNetworkDisconnect(const Globals&, const std::vector<std::string>&);
Result<int> CmdNetworkPrune(const Globals&, const std::vector<std::string>&);
Result<int> CmdVolumeCreate(const Globals&, const std::vector<std::string>&);
Result<int> CmdVolumeLs(const Globals&, const std::vector<std::string>&);
Result<int> CmdVolumeInspect(const Globals&, const std::vector<std::string>&);
Result<int> CmdVolumeRm(const Globals&, const std::vector<std::string>&);
Result<int> CmdVolumePrune(const Globals&, const std::vector<std::string>&);
// cmd_system.cc
Result<int> CmdInfo(const Globals&, const std::vector<std::string>&);
Result<int> CmdVersion(const Globals&, const std::vector<std::string>&);
Result<int> CmdSystemDf(const Globals&, const std::vector<std::string>&);
Result<int> CmdSystemPrune(const Globals&, const std::vector<std::string>&);

// Discovery commands (cmd_service.cc, cmd_kv.cc, cmd_dns.cc).
Result<int> CmdServiceLs(const Globals&, const std::vector<std::string>&);
Result<int> CmdServiceInspect(const Globals&, const std::vector<std::string>&);
Result<int> CmdServiceRegister(const Globals&, const std::vector<std::string>&);
Result<int> CmdServiceDeregister(const Globals&, const std::vector<std::string>&);
Result<int> CmdKvGet(const Globals&, const std::vector<std::string>&);
Result<int> CmdKvPut(const Globals&, const std::vector<std::string>&);
Result<int> CmdKvRm(const Globals&, const std::vector<std::string>&);
Result<int> CmdKvLs(const Globals&, const std::vector<std::string>&);
Result<int> CmdDnsQuery(const Globals&, const std::vector<std::string>&);
Result<int> CmdLogship(const Globals&, const std::vector<std::string>&);
// cmd_app_config.cc: the app file (moor.yaml).
Result<int> CmdConfig(const Globals&, const std::vector<std::string>&);
// cmd_app.cc: moor up / down / scale and moor app ps / logs / restart.
Result<int> CmdUp(const Globals&, const std::vector<std::string>&);
Result<int> CmdDown(const Globals&, const std::vector<std::string>&);
Result<int> CmdScale(const Globals&, const std::vector<std::string>&);
Result<int> CmdAppPs(const Globals&, const std::vector<std::string>&);
Result<int> CmdAppLogs(const Globals&, const std::vector<std::string>&);
Result<int> CmdAppRestart(const Globals&, const std::vector<std::string>&);
// cmd_deploy.cc: moor deploy [token …], releases [prune], rollback.
Result<int> CmdDeploy(const Globals&, const std::vector<std::string>&);
Result<int> CmdReleases(const Globals&, const std::vector<std::string>&);
Result<int> CmdRollback(const Globals&, const std::vector<std::string>&);
// `moor logs NAME` / `moor restart NAME` when the daemon knows no container
// NAME: if the app file in the current directory has a service NAME, runs
// cmd (the app variant) with args; nullopt otherwise.
std::optional<Result<int>> AppServiceFallback(const Globals& g, Command cmd, const std::string& service,
                                              const std::vector<std::string>& args);
// The daemon's "no such container" answer.
bool IsNoSuchContainer(const Error& e);

}  // namespace moor::cli
