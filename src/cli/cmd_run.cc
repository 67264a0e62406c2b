// run and create: through the daemon (POST /containers/create, then attach
// + start, or start alone with -d). Errors of the daemon or the flags exit
// 125, a command that cannot be found 127, one that cannot run 126, as docker.
#include <cstdio>

#include <unistd.h>

#include "cli/container_flags.h"
#include "cli/container_session.h"
#include "cli/daemon_client.h"

namespace moor::cli {

namespace {

Error Exit125(Error e) {
  if (e.exit_code() == 0) return std::move(e).WithExitCode(kExitDaemonError);
  return e;
}

}  // namespace

Result<int> CmdCreate(const Globals& g, const std::vector<std::string>& args) {
  auto o = ParseContainerArgs(args, /*run=*/false);
  if (!o) return Fail(Exit125(std::move(o.error())));
  auto d = Daemon::Connect(g);
  if (!d) return Fail(Exit125(std::move(d.error())));
  auto id = CreateContainer(*d, *o);
  if (!id) return Fail(Exit125(std::move(id.error())));
  Out(*id + "\n");
  return 0;
}

Result<int> CmdRun(const Globals& g, const std::vector<std::string>& args) {
  auto o = ParseContainerArgs(args, /*run=*/true);
  if (!o) return Fail(Exit125(std::move(o.error())));
  // As docker: -it needs a terminal on stdin; checked before anything is made.
  if (o->tty && o->interactive && !o->detach && !isatty(STDIN_FILENO)) {
    return FailInvalid("the input device is not a TTY: drop -t, or run from a terminal");
  }
  auto d = Daemon::Connect(g);
  if (!d) return Fail(Exit125(std::move(d.error())));
  auto id = CreateContainer(*d, *o);
  if (!id) return Fail(Exit125(std::move(id.error())));
  if (o->detach) {
    auto s = d->Call("POST", "/containers/" + Esc(*id) + "/start");
    if (!s) {
      (void)d->Call("DELETE", "/containers/" + Esc(*id) + "?force=1&v=1");  // nothing half-made
      return Fail(StartError(std::move(s.error())));
    }
    Out(*id + "\n");
    return 0;
  }
  auto rc =
      RunAttached(*d, *id, o->tty, o->interactive, /*start=*/true, o->auto_remove ? "removed" : "next-exit",
                  /*remove_if_start_fails=*/true);
  if (!rc) return Fail(Exit125(std::move(rc.error())));
  return *rc;
}

}  // namespace moor::cli
