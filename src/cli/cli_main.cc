#include "cli/cli_main.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/context.h"
#include "cli/deploy_daemon.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/daemon_main.h"
#include "monitor/monitor_config.h"

namespace moor::cli {

namespace {

constexpr const char* kUsage = R"(Usage: moor [GLOBAL OPTIONS] COMMAND [ARGS]

Images:
  pull [--platform OS/ARCH[/VARIANT]] [-q] NAME     fetch an image from a registry
  push [-q] NAME                                    upload an image to its registry
  login [-u USER] [-p PASS | --password-stdin] [REGISTRY]
  logout [REGISTRY]
  images | image ls [-q] [--digests] [--format json]
  image inspect NAME|ID...
  image rm [-f] NAME|ID...   (also: rmi)
  tag SOURCE TARGET          (also: image tag)
  image history NAME|ID
  image prune                remove unreferenced blobs and unpacked layers
  image load [-i FILE] [-q]  (docker save archives, OCI layouts)
  image save [-o FILE] NAME...
  image import FILE|- [NAME] [-c CHANGE]... [-m MESSAGE] [--platform P]
  build -t NAME [-f Dockerfile] [--build-arg K=V]... [--target STAGE] [--no-cache] [-q] CONTEXT
Containers (through the daemon, see --host):
  run [OPTIONS] IMAGE [COMMAND [ARG...]]    create and start; -d prints the ID, else attached
      (-d -i -t --rm --name -e --env-file -l -p -v --mount --tmpfs -w -u -h --entrypoint --init
       --read-only --restart --network --ip --network-alias -m --memory-swap --cpus -c
       --cpuset-cpus --pids-limit --blkio-weight --health-* --no-healthcheck --stop-signal ...)
  create [OPTIONS] IMAGE [COMMAND [ARG...]]
  start [-a] [-i] | stop [-t S] [-s SIG] | restart [-t S] | kill [-s SIG] CONTAINER...
  rm [-f] [-v] | pause | unpause | wait CONTAINER...
  ps [-a] [-q] [--filter K=V] [--format F] [--no-trunc]
  logs [-f] [--since T] [--until T] [-n N] [-t] CONTAINER
  exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]
  attach CONTAINER | top CONTAINER | stats [--no-stream] [CONTAINER...]
  inspect [-f FORMAT] NAME...   containers, else images
  update [--memory M] [--cpus N] [--restart P] ... CONTAINER...
  rename CONTAINER NEW | cp CONTAINER:SRC DEST | cp SRC CONTAINER:DEST
  events [--filter K=V] [--since T] [--until T] [--format F]
  container ls|run|create|start|stop|rm|inspect|logs|exec|prune|...   (same commands)
Networks and volumes:
  network create [--subnet CIDR] [--gateway IP] NAME | ls | inspect | rm | connect | disconnect | prune
  volume create [NAME] | ls | inspect | rm [-f] | prune
Service discovery (docs/discovery.md):
  service ls | inspect NAME | register --name N --address IP --port P [--check-*] | deregister ID
  kv get KEY [--recurse] | put KEY VALUE [--cas N] | rm KEY [--recurse] | ls [PREFIX]
  dns query NAME [TYPE] [--server IP:PORT] [--tcp]
Logs and metrics (docs/logs.md, docs/metrics.md):
  logship [--format json]                  log outputs: delivered, dropped, lag, last error
  stats [--no-stream] [CONTAINER...] | top CONTAINER   live resource use, processes
Apps (moor.yaml, docs/moor-yaml.md):
  config [-f FILE] [--format yaml|json] [--profile P]... [-q] [--services]   validate and print normalised
  up [-d] [--wait] [--build] [--pull missing|always|never] [--no-orphans] [--scale SVC=N]...
     [--timeout DURATION] [SERVICE...]     make what runs match the file (attached without -d)
  down [-v] [-t SECONDS]                   remove the app's containers and networks (-v: volumes)
  scale SVC=N...                           set replicas, rolling nothing else
  app ps [-a] [-q] [--format json] [SERVICE...]   NAME SERVICE STATUS REGISTERED PORTS
  app logs [-f] [-n N] [-t] [--since T] [SERVICE...]   merged, each line "NAME | …" (--file FILE)
  app restart [-t SECONDS] [--timeout DURATION] [SERVICE...]   one at a time, each ready first
  app up|down|scale|config                 the same as above
  every app command: -f FILE (default moor.yaml, compose.yaml… here), -p NAME, --profile P
  logs SERVICE / restart SERVICE           in an app's directory: the service's containers
Deploys (code: services, docs/deploy.md):
  deploy [SERVICE] [DIR] [--image REF] [--dry-run] [-q]   ship the code directory's changes, switch
      [--remote https://HOST:PORT] [--token-file F | --cert F --key F] [--cacert F]   (or MOOR_DEPLOY_REMOTE)
  releases [SERVICE] [--format json]       the ledger; the live release is marked *
  rollback [SERVICE] [RELEASE]             switch back (default: the release live before)
  releases prune [SERVICE] [--keep N]      remove old releases and unreferenced blobs
  deploy token create NAME [--app APP] | ls | rm NAME   tokens for --remote deploys
System:
  info | version | system info | system df | system prune [--volumes]
  daemon [--root DIR] [--exec-root DIR] [-H SOCKET] ...   run the engine (moor daemon --help)

--format: "json", or a Go-template subset: "{{.Name}}", "{{json .Config}}",
"table {{.ID}}\t{{.Names}}" (see src/cli/format.h).

Global options:
  -H, --host unix:///PATH    the daemon's socket (default $MOOR_HOST, else unix:///run/moor/moor.sock)
  --root DIR                 moor's state (default /var/lib/moor)
  --cert-dir DIR             per-registry CA dirs (DIR/HOST[:PORT]/*.crt); repeatable
  --insecure-registry HOST   allow plain HTTP to HOST[:PORT]; repeatable
  --docker-config DIR        where config.json with registry credentials lives
                             (default $DOCKER_CONFIG, then ~/.docker)
  --debug                    verbose logging
)";

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> m = {
      // Images: the local store (cmd_image.cc, cmd_transfer.cc, cmd_registry.cc, cmd_build.cc).
      {"pull", CmdPull},
      {"image pull", CmdPull},
      {"push", CmdPush},
      {"image push", CmdPush},
      {"login", CmdLogin},
      {"logout", CmdLogout},
      {"images", CmdImages},
      {"image ls", CmdImages},
      {"image list", CmdImages},
      {"image inspect", CmdInspect},
      {"rmi", CmdRmi},
      {"image rm", CmdRmi},
      {"image remove", CmdRmi},
      {"tag", CmdTag},
      {"image tag", CmdTag},
      {"history", CmdHistory},
      {"image history", CmdHistory},
      {"image prune", CmdPrune},
      {"load", CmdLoad},
      {"image load", CmdLoad},
      {"save", CmdSave},
      {"image save", CmdSave},
      {"import", CmdImport},
      {"image import", CmdImport},
      {"build", CmdBuild},
      {"image build", CmdBuild},
      // Containers: the daemon's API. Each also answers as "container <name>".
      {"run", CmdRun},
      {"create", CmdCreate},
      {"start", CmdStart},
      {"stop", CmdStop},
      {"restart", CmdRestart},
      {"kill", CmdKill},
      {"rm", CmdRm},
      {"container remove", CmdRm},
      {"pause", CmdPause},
      {"unpause", CmdUnpause},
      {"rename", CmdRename},
      {"wait", CmdWait},
      {"update", CmdUpdate},
      {"ps", CmdPs},
      {"container ls", CmdPs},
      {"container list", CmdPs},
      {"logs", CmdLogs},
      {"exec", CmdExec},
      {"attach", CmdAttach},
      {"inspect", CmdInspectAny},
      {"container inspect", CmdContainerInspect},
      {"top", CmdTop},
      {"stats", CmdStats},
      {"cp", CmdCp},
      {"events", CmdEvents},
      {"container prune", CmdContainerPrune},
      {"system events", CmdEvents},
      // Networks and volumes.
      {"network create", CmdNetworkCreate},
      {"network ls", CmdNetworkLs},
      {"network list", CmdNetworkLs},
      {"network inspect", CmdNetworkInspect},
      {"network rm", CmdNetworkRm},
      {"network remove", CmdNetworkRm},
      {"network connect", CmdNetworkConnect},
      {"network disconnect", CmdNetworkDisconnect},
      {"network prune", CmdNetworkPrune},
      {"volume create", CmdVolumeCreate},
      {"volume ls", CmdVolumeLs},
      {"volume list", CmdVolumeLs},
      {"volume inspect", CmdVolumeInspect},
      {"volume rm", CmdVolumeRm},
      {"volume remove", CmdVolumeRm},
      {"volume prune", CmdVolumePrune},
      // Discovery.
      {"service ls", CmdServiceLs},
      {"service list", CmdServiceLs},
      {"service inspect", CmdServiceInspect},
      {"service register", CmdServiceRegister},
      {"service deregister", CmdServiceDeregister},
      {"kv get", CmdKvGet},
      {"kv put", CmdKvPut},
      {"kv rm", CmdKvRm},
      {"kv delete", CmdKvRm},
      {"kv ls", CmdKvLs},
      {"dns query", CmdDnsQuery},
      {"logship", CmdLogship},
      {"config", CmdConfig},
      {"up", CmdUp},
      {"down", CmdDown},
      {"scale", CmdScale},
      {"app up", CmdUp},
      {"app down", CmdDown},
      {"app scale", CmdScale},
      {"app config", CmdConfig},
      {"app ps", CmdAppPs},
      {"app ls", CmdAppPs},
      {"app logs", CmdAppLogs},
      {"app restart", CmdAppRestart},
      {"deploy", CmdDeploy},
      {"releases", CmdReleases},
      {"rollback", CmdRollback},
      // System.
      {"info", CmdInfo},
      {"system info", CmdInfo},
      {"version", CmdVersion},
      {"system df", CmdSystemDf},
      {"system prune", CmdSystemPrune},
  };
  return m;
}

// Commands reachable as "container <name>" too (docker's management command).
bool IsContainerCommand(const std::string& name) {
  static const char* kNames[] = {"run",  "create", "start",   "stop",   "restart", "kill",
                                 "rm",   "pause",  "unpause", "rename", "wait",    "update",
                                 "logs", "exec",   "attach",  "top",    "stats",   "cp"};
  for (auto* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

int CliMain(int argc, char** argv, char** envp) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The engine's own processes take their flags themselves.
  if (!args.empty() && args[0] == "daemon") {
    return engine::DaemonMain(std::vector<std::string>(args.begin() + 1, args.end()), DeployExtension());
  }
  if (!args.empty() && args[0] == "monitor") {
    if (args.size() != 3 || args[1] != "--config") {
      std::fprintf(stderr, "moor monitor: usage: moor monitor --config FILE (started by the daemon)\n");
      return 2;
    }
    return monitor::MonitorMain(args[2]);
  }
  std::vector<FlagSpec> global_specs = {
      {"root", "", true, false},          {"cert-dir", "", true, true}, {"insecure-registry", "", true, true},
      {"docker-config", "", true, false}, {"debug", "D", false, false}, {"help", "h", false, false},
      {"version", "v", false, false},     {"host", "H", true, false},
  };
  size_t end = 0;
  auto parsed = runtime_cli::ParseArgs(args, 0, global_specs, true, &end);
  if (!parsed) {
    std::fprintf(stderr, "moor: %s\n", parsed.error().message().c_str());
    return 2;
  }
  Globals g;
  g.argv = argv;
  g.envp = envp;
  g.root = parsed->Get("root", image::kDefaultRoot);
  g.host = parsed->Get("host");
  g.debug = parsed->Bool("debug");
  log::Init(log::Options{nullptr, false, g.debug});
  // --cert-dir dirs are searched first, in the order given, then the defaults.
  std::vector<std::string> cert_dirs = parsed->All("cert-dir");
  for (auto& d : g.registry.cert_dirs) cert_dirs.push_back(d);
  g.registry.cert_dirs = std::move(cert_dirs);
  g.registry.insecure_registries = parsed->All("insecure-registry");
  if (parsed->Has("docker-config")) g.registry.docker_config = parsed->Get("docker-config") + "/config.json";

  if (parsed->Bool("version")) {
    std::printf("moor version 0.1.0\n");
    return 0;
  }
  std::vector<std::string> rest(args.begin() + static_cast<long>(end), args.end());
  if (parsed->Bool("help") || rest.empty() || rest[0] == "help") {
    std::fputs(kUsage, rest.empty() && !parsed->Bool("help") ? stderr : stdout);
    return rest.empty() && !parsed->Bool("help") ? 2 : 0;
  }
  std::string name = rest[0];
  size_t skip = 1;
  // Management commands: "image ls", "container run", "network create", …
  static const char* kGroups[] = {"image", "container", "network", "volume", "system", "service", "kv", "dns", "app"};
  for (auto* group : kGroups) {
    if (name != group) continue;
    if (rest.size() < 2) {
      std::fprintf(stderr, "moor: \"%s\" needs a subcommand; run `moor help` for the list\n", group);
      return 2;
    }
    name += " " + rest[1];
    skip = 2;
    if (StartsWith(name, "container ") && IsContainerCommand(rest[1])) name = rest[1];
    break;
  }
  auto it = Commands().find(name);
  if (it == Commands().end()) {
    std::fprintf(stderr, "moor: unknown command \"%s\"; run `moor help` for the list\n", name.c_str());
    return 2;
  }
  std::vector<std::string> cmd_args(rest.begin() + static_cast<long>(skip), rest.end());
  auto rc = it->second(g, cmd_args);
  if (!rc) {
    std::fprintf(stderr, "moor: %s\n", rc.error().message().c_str());
    return rc.error().exit_code() ? rc.error().exit_code() : 1;
  }
  return *rc;
}

Result<image::ImageService> OpenImages(const Globals& g) {
  return image::ImageService::Open(g.root, g.registry);
}

Result<ParsedArgs> ParseCommand(const std::vector<std::string>& args, std::vector<FlagSpec> specs,
                                bool stop_at_positional) {
  // -h is --help unless the command uses it (run/create: --hostname).
  bool h_taken = false;
  for (auto& s : specs) h_taken |= s.short_name == "h";
  specs.push_back({"help", h_taken ? "" : "h", false, false});
  // "-it" style bundles of one-letter boolean flags.
  std::vector<std::string> expanded;
  bool stopped = false;
  bool value_next = false;  // the previous argument was a flag whose value follows
  for (auto& a : args) {
    if (value_next) {
      value_next = false;
      expanded.push_back(a);
      continue;
    }
    if (!stopped && a.size() > 2 && a[0] == '-' && a[1] != '-' && a.find('=') == std::string::npos) {
      bool all_bools = true;
      for (size_t i = 1; i < a.size(); ++i) {
        bool found = false;
        for (auto& s : specs)
          found |= (s.short_name.size() == 1 && s.short_name[0] == a[i] && !s.takes_value);
        all_bools &= found;
      }
      if (all_bools) {
        for (size_t i = 1; i < a.size(); ++i) expanded.push_back(std::string("-") + a[i]);
        continue;
      }
    }
    if (!stopped && a.size() > 1 && a[0] == '-' && a.find('=') == std::string::npos) {
      std::string body = a.substr(a[1] == '-' ? 2 : 1);
      for (auto& s : specs) value_next |= s.takes_value && (s.name == body || s.short_name == body);
    }
    if (stop_at_positional && !a.empty() && a[0] != '-') stopped = true;
    expanded.push_back(a);
  }
  return runtime_cli::ParseArgs(expanded, 0, specs, stop_at_positional);
}

void Out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

}  // namespace moor::cli
