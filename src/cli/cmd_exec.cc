// exec and attach: raw sessions through the daemon's upgraded connections.
#include <cstdio>
#include <optional>

#include <unistd.h>

#include "cli/attach_io.h"
#include "cli/container_session.h"
#include "cli/daemon_client.h"

namespace moor::cli {

using nlohmann::json;

Result<int> CmdExec(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args,
                            {{"interactive", "i", false, false},
                             {"tty", "t", false, false},
                             {"detach", "d", false, false},
                             {"env", "e", true, true},
                             {"user", "u", true, false},
                             {"workdir", "w", true, false},
                             {"privileged", "", false, false}},
                            /*stop_at_positional=*/true));
  if (a.positional.size() < 2)
    return FailInvalid("exec: usage: moor exec [OPTIONS] CONTAINER COMMAND [ARG...]");
  bool tty = a.Bool("tty"), in = a.Bool("interactive"), detach = a.Bool("detach");
  if (tty && in && !detach && !isatty(STDIN_FILENO)) {
    return FailInvalid("the input device is not a TTY: drop -t, or run from a terminal");
  }
  json body = {{"Cmd", std::vector<std::string>(a.positional.begin() + 1, a.positional.end())},
               {"Env", a.All("env")},
               {"User", a.Get("user")},
               {"WorkingDir", a.Get("workdir")},
               {"Tty", tty},
               {"AttachStdin", in && !detach},
               {"AttachStdout", !detach},
               {"AttachStderr", !detach},
               {"Privileged", a.Bool("privileged")}};
  auto d = TRY(Daemon::Connect(g));
  json created = TRY(d.PostJson("/containers/" + Esc(a.positional[0]) + "/exec", body));
  if (!created.is_object() || !created.contains("Id"))
    return FailInvalid("exec: the daemon's answer has no Id");
  std::string exec = "/exec/" + Esc(created["Id"].get<std::string>());
  json start = {{"Detach", detach}, {"Tty", tty}};
  if (detach) {
    auto r = d.PostJson(exec + "/start", start);
    if (!r) return Fail(StartError(std::move(r.error())));
    return 0;
  }
  std::string pending;
  api::UnixHttpClient session(d.socket_path());
  auto conn = session.Upgrade("POST", exec + "/start", start.dump(), &pending);
  if (!conn) return Fail(StartError(std::move(conn.error())));
  auto resize = [&] {
    int rows = 0, cols = 0;
    if (!tty || !TerminalSize(&rows, &cols)) return;
    api::UnixHttpClient c(d.socket_path());
    (void)c.Do("POST", exec + "/resize?h=" + std::to_string(rows) + "&w=" + std::to_string(cols));
  };
  SignalRelay relay(resize, nullptr);
  std::optional<RawTerminal> raw;
  if (tty && in) raw.emplace();
  resize();
  auto pumped = PumpSession(conn->get(), pending, tty, in);
  if (raw) raw->Restore();
  TRY(pumped);
  json info = TRY(d.GetJson(exec + "/json"));
  return info.is_object() ? info.value("ExitCode", 0) : 0;
}

Result<int> CmdAttach(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"no-stdin", "", false, false}, {"sig-proxy", "", true, false}}));
  if (a.positional.size() != 1) return FailInvalid("attach: usage: moor attach [--no-stdin] CONTAINER");
  auto d = TRY(Daemon::Connect(g));
  json info = TRY(InspectContainer(d, a.positional[0]));
  const json state = info.value("State", json::object());
  if (!state.value("Running", false)) {
    return FailInvalid("cannot attach to a stopped container; start it first (moor start -a " +
                       a.positional[0] + ")");
  }
  const json config = info.value("Config", json::object());
  bool tty = config.value("Tty", false);
  bool with_stdin = !a.Bool("no-stdin") && config.value("OpenStdin", false);
  return RunAttached(d, info.value("Id", a.positional[0]), tty, with_stdin, /*start=*/false, "next-exit");
}

}  // namespace moor::cli
