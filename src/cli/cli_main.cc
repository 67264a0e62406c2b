#include "cli/cli_main.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/context.h"
#include "common/log.h"

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
Containers:
  run [--rm] [-i] [-t] [-e K=V]... [-u USER] [-w DIR] [--entrypoint CMD] [--network host|none]
      [-v SRC:DST[:ro]]... [--read-only] [--hostname H] IMAGE [COMMAND [ARG...]]

Global options:
  --root DIR                 moor's state (default /var/lib/moor)
  --cert-dir DIR             per-registry CA dirs (DIR/HOST[:PORT]/*.crt); repeatable
  --insecure-registry HOST   allow plain HTTP to HOST[:PORT]; repeatable
  --docker-config DIR        where config.json with registry credentials lives
                             (default $DOCKER_CONFIG, then ~/.docker)
  --debug                    verbose logging
)";

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> m = {
      {"pull", CmdPull},           {"image pull", CmdPull},       {"push", CmdPush},
      {"image push", CmdPush},     {"login", CmdLogin},           {"logout", CmdLogout},
      {"images", CmdImages},       {"image ls", CmdImages},       {"image list", CmdImages},
      {"image inspect", CmdInspect}, {"inspect", CmdInspect},     {"rmi", CmdRmi},
      {"image rm", CmdRmi},        {"image remove", CmdRmi},      {"tag", CmdTag},
      {"image tag", CmdTag},       {"history", CmdHistory},       {"image history", CmdHistory},
      {"image prune", CmdPrune},   {"load", CmdLoad},             {"image load", CmdLoad},
      {"save", CmdSave},           {"image save", CmdSave},       {"import", CmdImport},
      {"image import", CmdImport}, {"build", CmdBuild},           {"image build", CmdBuild},
      {"run", CmdRun},
  };
  return m;
}

}  // namespace

int CliMain(int argc, char** argv, char** envp) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<FlagSpec> global_specs = {
      {"root", "", true, false},          {"cert-dir", "", true, true},  {"insecure-registry", "", true, true},
      {"docker-config", "", true, false}, {"debug", "D", false, false},  {"help", "h", false, false},
      {"version", "v", false, false},
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
  if ((name == "image" || name == "images") && rest.size() > 1 && name == "image") {
    name += " " + rest[1];
    skip = 2;
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

Result<image::ImageService> OpenImages(const Globals& g) { return image::ImageService::Open(g.root, g.registry); }

Result<ParsedArgs> ParseCommand(const std::vector<std::string>& args, std::vector<FlagSpec> specs,
                                bool stop_at_positional) {
  specs.push_back({"help", "h", false, false});
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
        for (auto& s : specs) found |= (s.short_name.size() == 1 && s.short_name[0] == a[i] && !s.takes_value);
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
