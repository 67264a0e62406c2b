// logs: GET /containers/{id}/logs, demultiplexed to stdout / stderr (raw
// when the container has a TTY).
#include <unistd.h>

#include <ctime>

#include "cli/container_session.h"
#include "cli/daemon_client.h"
#include "cli/stream_demux.h"
#include "cli/time_arg.h"
#include "common/strings.h"

namespace moor::cli {

Result<int> CmdLogs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"follow", "f", false, false},
                                   {"since", "", true, false},
                                   {"until", "", true, false},
                                   {"tail", "n", true, false},
                                   {"timestamps", "t", false, false}}));
  if (a.positional.size() != 1) return FailInvalid("logs: usage: moor logs [OPTIONS] CONTAINER");
  std::string q = "?stdout=1&stderr=1";
  if (a.Bool("follow")) q += "&follow=1";
  if (a.Bool("timestamps")) q += "&timestamps=1";
  int64_t now = static_cast<int64_t>(time(nullptr));
  if (a.Has("since")) q += "&since=" + TRY_CTX(UnixTimeArg(a.Get("since"), now), "--since");
  if (a.Has("until")) q += "&until=" + TRY_CTX(UnixTimeArg(a.Get("until"), now), "--until");
  if (a.Has("tail")) {
    std::string t = a.Get("tail");
    if (t != "all" && !ParseInt(t)) return FailInvalid("--tail: want a number of lines or \"all\"");
    q += "&tail=" + t;
  }
  auto d = TRY(Daemon::Connect(g));
  auto found = InspectContainer(d, a.positional[0]);
  if (!found && IsNoSuchContainer(found.error())) {
    // In an app's directory, `moor logs SERVICE` shows the service's containers.
    if (auto r = AppServiceFallback(g, CmdAppLogs, a.positional[0], args)) return std::move(*r);
  }
  auto info = TRY(std::move(found));
  bool tty = info.contains("Config") && info["Config"].is_object() && info["Config"].value("Tty", false);
  std::string id = info.value("Id", a.positional[0]);

  auto write_all = [](int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  };
  StreamDemuxer demux([&](int stream, std::string_view data) {
    write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, data);
  });
  Result<void> fed;
  TRY(d.StreamBody("GET", "/containers/" + Esc(id) + "/logs" + q, [&](std::string_view piece) {
    if (tty) {
      write_all(STDOUT_FILENO, piece);
      return true;
    }
    fed = demux.Feed(piece);
    return fed.has_value();
  }));
  TRY(fed);
  return 0;
}

}  // namespace moor::cli
