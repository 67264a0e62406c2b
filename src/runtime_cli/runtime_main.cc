#include "runtime_cli/runtime_main.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/ops.h"
#include "runtime/self_exe.h"
#include "runtime_cli/args.h"

namespace moor::runtime_cli {
namespace {

using runtime::CreateOptions;

constexpr const char* kUsage = R"(moor-runtime: an OCI runtime (runc-compatible command line)

usage: moor-runtime [global flags] COMMAND [flags] ID [args]

global flags: --root DIR (default /run/moor-runtime)  --log FILE  --log-format text|json
              --debug  --systemd-cgroup
commands:
  create   create a container (--bundle, --pid-file, --console-socket, --preserve-fds, --no-pivot)
  start    start a created container
  run      create + start, wait for the exit (-d to detach, --keep to keep the state)
  state    print the state JSON
  kill     send a signal (default TERM; --all for every process)
  delete   delete a container (--force kills it first)
  exec     run a process in a container (--process FILE | args; -d, -t, --env, --cwd, --user)
  list     list containers (--format table|json)
  ps       list the container's processes (--format table|json)
  pause    freeze every process; resume thaws them
  update   change resources live (--resources FILE|-, --memory, --pids-limit, --cpu-quota, …)
  spec     write a default config.json (--bundle, --rootless)
  features print the supported features JSON
)";

struct Global {
  std::string root = "/run/moor-runtime";
  bool systemd_cgroup = false;
};

int ReportError(const Error& e) {
  log::Error(e.message());
  return e.exit_code() ? e.exit_code() : 1;
}

Result<std::string> OneId(const ParsedArgs& a, const char* cmd) {
  if (a.positional.empty()) return FailInvalid(std::string(cmd) + ": missing container ID");
  return a.positional[0];
}

const std::vector<FlagSpec> kCreateFlags = {
    {"bundle", "b", true},      {"console-socket", "", true}, {"pid-file", "", true},
    {"no-pivot", "", false},    {"no-new-keyring", "", false}, {"preserve-fds", "", true},
    {"detach", "d", false},     {"keep", "", false},           {"no-subreaper", "", false}};

Result<int> CmdCreateOrRun(const Global& g, const std::vector<std::string>& args, size_t i, bool run) {
  ParsedArgs a = TRY(ParseArgs(args, i, kCreateFlags, true));
  CreateOptions o;
  o.root = g.root;
  o.id = TRY(OneId(a, run ? "run" : "create"));
  o.bundle = a.Get("bundle", ".");
  o.pid_file = a.Get("pid-file");
  o.console_socket = a.Get("console-socket");
  o.no_pivot = a.Bool("no-pivot");
  o.systemd_cgroup = g.systemd_cgroup;
  if (a.Has("preserve-fds")) {
    auto n = ParseUint(a.Get("preserve-fds"));
    if (!n || *n > 1024) return FailInvalid("--preserve-fds: expected a number of file descriptors");
    o.preserve_fds = static_cast<int>(*n);
  }
  if (!o.pid_file.empty() && o.pid_file[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) o.pid_file = std::string(cwd) + "/" + o.pid_file;
  }
  if (run) return runtime::RunContainer(o, a.Bool("detach"), a.Bool("keep"));
  TRY(runtime::CreateContainer(o));
  return 0;
}

Result<int> CmdExec(const Global& g, const std::vector<std::string>& args, size_t i) {
  static const std::vector<FlagSpec> flags = {
      {"console-socket", "", true}, {"cwd", "", true},         {"env", "e", true, true},  {"tty", "t", false},
      {"user", "u", true},          {"additional-gids", "g", true, true}, {"process", "p", true},
      {"detach", "d", false},       {"pid-file", "", true},    {"process-label", "", true}, {"apparmor", "", true},
      {"no-new-privs", "", false},  {"cap", "c", true, true},  {"preserve-fds", "", true}, {"cgroup", "", true, true},
      {"ignore-paused", "", false}};
  ParsedArgs a = TRY(ParseArgs(args, i, flags, true));
  runtime::ExecOptions o;
  o.root = g.root;
  o.id = TRY(OneId(a, "exec"));
  o.pid_file = a.Get("pid-file");
  o.console_socket = a.Get("console-socket");
  o.detach = a.Bool("detach");
  if (a.Has("preserve-fds")) o.preserve_fds = static_cast<int>(ParseUint(a.Get("preserve-fds")).value_or(0));
  if (a.Has("process")) {
    std::string text = TRY_CTX(ReadFile(a.Get("process")), "exec --process");
    o.process = TRY_CTX(oci::ParseProcess(text), "exec --process");
  } else {
    if (a.positional.size() < 2) return FailInvalid("exec: give the command to run after the container ID, or --process FILE");
    // Start from the container's own process settings, as runc does.
    runtime::ContainerDir dir{g.root, o.id};
    auto spec = runtime::LoadSavedSpec(dir);
    if (!spec) return Fail(Error(ENOENT, "container \"" + o.id + "\" does not exist"));
    o.process = *spec->process;
    o.process.args.assign(a.positional.begin() + 1, a.positional.end());
    o.process.terminal = a.Bool("tty");
    o.process.console_size.reset();
    for (const auto& e : a.All("env")) o.process.env.push_back(e);
    if (a.Has("cwd")) o.process.cwd = a.Get("cwd");
    if (a.Has("user")) {
      auto parts = Split(a.Get("user"), ':');
      auto uid = ParseUint(parts[0]);
      if (!uid) return FailInvalid("--user: expected UID[:GID] numbers, got \"" + a.Get("user") + "\"");
      o.process.user.uid = static_cast<uint32_t>(*uid);
      o.process.user.gid = 0;
      if (parts.size() > 1) {
        auto gid = ParseUint(parts[1]);
        if (!gid) return FailInvalid("--user: expected UID[:GID] numbers");
        o.process.user.gid = static_cast<uint32_t>(*gid);
      }
    }
    for (const auto& gs : a.All("additional-gids")) {
      auto gid = ParseUint(gs);
      if (!gid) return FailInvalid("--additional-gids: expected a number, got \"" + gs + "\"");
      o.process.user.additional_gids.push_back(static_cast<uint32_t>(*gid));
    }
    if (a.Bool("no-new-privs")) o.process.no_new_privileges = true;
    for (const auto& c : a.All("cap")) {
      if (!o.process.capabilities) o.process.capabilities.emplace();
      for (auto* set : {&o.process.capabilities->bounding, &o.process.capabilities->effective,
                        &o.process.capabilities->permitted})
        set->push_back(c);
    }
  }
  return runtime::ExecInContainer(o);
}

// The value inside `o`, created empty when absent.
template <class T>
T& Ensure(std::optional<T>& o) {
  return o ? *o : o.emplace();
}

Result<oci::Resources> ResourcesFromFlags(const ParsedArgs& a) {
  oci::Resources r;
  if (a.Has("resources")) {
    std::string src = a.Get("resources");
    std::string text;
    if (src == "-") {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(0, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    } else {
      text = TRY_CTX(ReadFile(src), "update --resources");
    }
    r = TRY_CTX(oci::ParseResources(text), "update --resources");
  }
  auto num = [&](const char* flag) -> Result<std::optional<int64_t>> {
    if (!a.Has(flag)) return std::optional<int64_t>{};
    auto v = ParseInt(a.Get(flag));
    if (!v) return FailInvalid(std::string("--") + flag + ": expected a number, got \"" + a.Get(flag) + "\"");
    return std::optional<int64_t>(*v);
  };
  auto bytes = [&](const char* flag) -> Result<std::optional<int64_t>> {
    if (!a.Has(flag)) return std::optional<int64_t>{};
    auto v = ParseByteSize(a.Get(flag));
    if (!v) return FailInvalid(std::string("--") + flag + ": expected bytes like 134217728, 128m or 1g (or -1), got \"" +
                               a.Get(flag) + "\"");
    return std::optional<int64_t>(*v);
  };
  if (auto v = TRY(bytes("memory"))) Ensure(r.memory).limit = *v;
  if (auto v = TRY(bytes("memory-swap"))) Ensure(r.memory).swap = *v;
  if (auto v = TRY(bytes("memory-reservation"))) Ensure(r.memory).reservation = *v;
  if (auto v = TRY(num("cpu-shares"))) Ensure(r.cpu).shares = static_cast<uint64_t>(*v);
  if (auto v = TRY(num("cpu-period"))) Ensure(r.cpu).period = static_cast<uint64_t>(*v);
  if (auto v = TRY(num("cpu-quota"))) Ensure(r.cpu).quota = *v;
  if (a.Has("cpuset-cpus")) Ensure(r.cpu).cpus = a.Get("cpuset-cpus");
  if (a.Has("cpuset-mems")) Ensure(r.cpu).mems = a.Get("cpuset-mems");
  if (auto v = TRY(num("pids-limit"))) r.pids = oci::PidsResources{*v};
  if (auto v = TRY(num("blkio-weight"))) Ensure(r.block_io).weight = static_cast<uint16_t>(*v);
  return r;
}

Result<int> Dispatch(const Global& g, const std::string& cmd, const std::vector<std::string>& args, size_t i) {
  if (cmd == "create" || cmd == "run") return CmdCreateOrRun(g, args, i, cmd == "run");
  if (cmd == "exec") return CmdExec(g, args, i);
  if (cmd == "start") {
    ParsedArgs a = TRY(ParseArgs(args, i, {}, true));
    TRY(runtime::StartContainer(g.root, TRY(OneId(a, "start"))));
    return 0;
  }
  if (cmd == "state") {
    ParsedArgs a = TRY(ParseArgs(args, i, {}, true));
    std::string out = TRY(runtime::StateJson(g.root, TRY(OneId(a, "state"))));
    std::printf("%s\n", out.c_str());
    return 0;
  }
  if (cmd == "kill") {
    ParsedArgs a = TRY(ParseArgs(args, i, {{"all", "a", false}}, true));
    std::string id = TRY(OneId(a, "kill"));
    int sig = TRY(runtime::ParseSignal(a.positional.size() > 1 ? a.positional[1] : "TERM"));
    TRY(runtime::KillContainer(g.root, id, sig, a.Bool("all")));
    return 0;
  }
  if (cmd == "delete") {
    ParsedArgs a = TRY(ParseArgs(args, i, {{"force", "f", false}}, true));
    for (const auto& id : a.positional) TRY(runtime::DeleteContainer(g.root, id, a.Bool("force")));
    if (a.positional.empty()) return FailInvalid("delete: missing container ID");
    return 0;
  }
  if (cmd == "list" || cmd == "ls") {
    ParsedArgs a = TRY(ParseArgs(args, i, {{"format", "f", true}, {"quiet", "q", false}}, true));
    std::string fmt = a.Get("format", "table");
    if (fmt != "table" && fmt != "json") return FailInvalid("list --format: expected table or json");
    std::string out = TRY(runtime::ListContainers(g.root, fmt == "json"));
    if (a.Bool("quiet")) {
      std::string ids;
      auto lines = Split(out, '\n');
      for (size_t k = 1; k < lines.size(); ++k)
        if (!lines[k].empty()) ids += lines[k].substr(0, lines[k].find('\t')) + "\n";
      out = ids;
    }
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  if (cmd == "ps") {
    ParsedArgs a = TRY(ParseArgs(args, i, {{"format", "f", true}}, true));
    auto pids = TRY(runtime::ContainerPids(g.root, TRY(OneId(a, "ps"))));
    if (a.Get("format", "table") == "json") {
      std::printf("%s\n", nlohmann::json(pids).dump().c_str());
      return 0;
    }
    std::printf("PID\tCMD\n");
    for (pid_t p : pids) {
      auto cmdline = ReadFile("/proc/" + std::to_string(p) + "/cmdline");
      std::string c = cmdline ? *cmdline : "";
      for (auto& ch : c)
        if (ch == '\0') ch = ' ';
      std::printf("%d\t%s\n", p, std::string(Trim(c)).c_str());
    }
    return 0;
  }
  if (cmd == "pause" || cmd == "resume") {
    ParsedArgs a = TRY(ParseArgs(args, i, {}, true));
    std::string id = TRY(OneId(a, cmd.c_str()));
    TRY(cmd == "pause" ? runtime::PauseContainer(g.root, id) : runtime::ResumeContainer(g.root, id));
    return 0;
  }
  if (cmd == "update") {
    static const std::vector<FlagSpec> flags = {
        {"resources", "r", true},   {"memory", "", true},      {"memory-swap", "", true},
        {"memory-reservation", "", true}, {"kernel-memory", "", true}, {"kernel-memory-tcp", "", true},
        {"cpu-shares", "", true},   {"cpu-period", "", true},  {"cpu-quota", "", true},
        {"cpu-rt-period", "", true}, {"cpu-rt-runtime", "", true}, {"cpuset-cpus", "", true},
        {"cpuset-mems", "", true},  {"pids-limit", "", true},  {"blkio-weight", "", true},
        {"l3-cache-schema", "", true}, {"mem-bw-schema", "", true}};
    ParsedArgs a = TRY(ParseArgs(args, i, flags, true));
    std::string id = TRY(OneId(a, "update"));
    oci::Resources r = TRY(ResourcesFromFlags(a));
    TRY(runtime::UpdateContainer(g.root, id, r));
    return 0;
  }
  if (cmd == "spec") {
    ParsedArgs a = TRY(ParseArgs(args, i, {{"bundle", "b", true}, {"rootless", "", false}}, true));
    std::string path = a.Get("bundle", ".") + "/config.json";
    if (PathExists(path)) return Fail(Error(EEXIST, "File " + path + " exists. Remove it first"));
    TRY(WriteFileAtomic(path, runtime::DefaultSpecJson(a.Bool("rootless"))));
    return 0;
  }
  if (cmd == "features") {
    std::printf("%s\n", runtime::FeaturesJson().c_str());
    return 0;
  }
  if (cmd == "checkpoint" || cmd == "restore" || cmd == "events")
    return Fail(Error(ENOTSUP, "\"" + cmd + "\" is not supported by moor-runtime"));
  return FailInvalid("unknown command \"" + cmd + "\"; see moor-runtime --help");
}

}  // namespace

int RuntimeMain(int argc, char** argv, char** envp) {
  std::vector<std::string> args(argv, argv + argc);
  static const std::vector<FlagSpec> global_flags = {
      {"root", "", true},       {"log", "", true},        {"log-format", "", true},
      {"debug", "", false},     {"systemd-cgroup", "", false}, {"criu", "", true},
      {"rootless", "", true},   {"help", "h", false},     {"version", "v", false}};
  size_t i = 0;
  auto g = ParseArgs(args, 1, global_flags, true, &i);
  if (!g) {
    log::Error(g.error().message());
    return 2;
  }
  log::Options lo;
  std::string log_path = g->Get("log");
  lo.path = log_path.empty() ? nullptr : log_path.c_str();
  lo.json = g->Get("log-format", "text") == "json";
  lo.debug = g->Bool("debug");
  log::Init(lo);
  if (g->Bool("version")) {
    std::printf("moor-runtime version 0.1.0\nspec: 1.0.2\n");
    return 0;
  }
  if (g->Bool("help") || i >= args.size()) {
    std::fputs(kUsage, g->Bool("help") ? stdout : stderr);
    return g->Bool("help") ? 0 : 2;
  }
  Global gl;
  gl.root = g->Get("root", gl.root);
  gl.systemd_cgroup = g->Bool("systemd-cgroup");
  const std::string& cmd = args[i];
  if (cmd == "create" || cmd == "run" || cmd == "exec") {
    // Re-exec from a sealed copy before anything touches a container.
    if (auto r = runtime::EnsureSealedSelf(argv, envp, runtime::kSelfCopyDir); !r) return ReportError(r.error());
  }
  auto r = Dispatch(gl, cmd, args, i + 1);
  if (!r) return ReportError(std::move(r.error()).Wrap(cmd));
  return *r;
}

}  // namespace moor::runtime_cli
