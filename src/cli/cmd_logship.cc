// moor logship [--format json]: where the daemon ships container logs, what
// each output has delivered, what it lags and its last error
// (GET /v1/moor/logship, docs/logs.md).
#include <cstdio>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"

namespace moor::cli {

using nlohmann::json;

namespace {

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

Result<int> CmdLogship(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "", true, false}}));
  if (!a.positional.empty()) return FailInvalid("logship: usage: moor logship [--format json]");
  auto d = TRY(Daemon::Connect(g));
  json st = TRY(d.GetJson("/v1/moor/logship"));
  if (a.Get("format") == "json") {
    Out(st.dump(2) + "\n");
    return 0;
  }
  if (!st.value("enabled", false)) {
    Out("log shipping is off: start the daemon with --log-output TYPE://ADDRESS (docs/logs.md)\n");
    return 0;
  }
  Table t({"OUTPUT", "TYPE", "ADDRESS", "CONNECTED", "SENT", "DROPPED", "LAG", "LAST ERROR"});
  for (const auto& o : st.value("outputs", json::array())) {
    t.Add({o.value("name", ""), o.value("type", ""), o.value("address", ""), o.value("connected", false) ? "yes" : "no",
           std::to_string(o.value("records_sent", uint64_t{0})), std::to_string(o.value("dropped", uint64_t{0})),
           Seconds(o.value("lag_seconds", 0.0)), o.value("last_error", "")});
  }
  Out(t.Render());
  const auto& sp = st.value("spool", json::object());
  Out("spool: " + BinarySize(sp.value("bytes", 0.0)) + " in " + std::to_string(sp.value("segments", 0)) +
      " segments of a " + BinarySize(sp.value("budget", 0.0)) + " budget; " +
      std::to_string(st.value("lines_read", uint64_t{0})) + " lines read from " +
      std::to_string(st.value("sources", 0)) + " containers\n");
  // Trouble on the way into the spool, shown only when there was some.
  auto n = [&](const char* k) { return st.value(k, uint64_t{0}); };
  if (n("spool_errors") || n("records_held") || n("records_refused")) {
    Out("spool errors: " + std::to_string(n("spool_errors")) + " (" + std::to_string(n("records_held")) +
        " lines waiting for the spool, retried every second; " + std::to_string(n("records_refused")) +
        " refused as larger than the budget): see the daemon's log\n");
  }
  if (n("source_lost_lines") || n("source_missed_files")) {
    Out("lost before the spool: " + std::to_string(n("source_missed_files")) +
        " rotated log file(s) given up unread (" + std::to_string(n("source_lost_lines")) +
        " lines counted): a container writes faster than shipping; raise --log-max-size\n");
  }
  return 0;
}

}  // namespace moor::cli
