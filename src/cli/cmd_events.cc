// events: GET /events, one line per event as docker prints them, or --format.
#include <ctime>
#include <optional>

#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/stream_demux.h"
#include "cli/time_arg.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

// "2024-01-02T15:04:05.123456789Z container start ID (image=busybox, name=web)"
std::string EventLine(const json& e) {
  int64_t nano = e.value("timeNano", int64_t{0});
  int64_t secs = nano ? nano / 1'000'000'000 : e.value("time", int64_t{0});
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(nano % 1'000'000'000));
  const json actor = e.value("Actor", json::object());
  std::string line = std::string(when) + frac + " " + e.value("Type", "") + " " + e.value("Action", "") +
                     " " + actor.value("ID", "");
  std::vector<std::string> attrs;
  if (actor.contains("Attributes") && actor["Attributes"].is_object()) {
    for (auto& [k, v] : actor["Attributes"].items())
      attrs.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  }
  if (!attrs.empty()) line += " (" + Join(attrs, ", ") + ")";
  return line;
}

}  // namespace

Result<int> CmdEvents(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"filter", "f", true, true},
                                   {"since", "", true, false},
                                   {"until", "", true, false},
                                   {"format", "", true, false}}));
  std::vector<std::string> q;
  int64_t now = static_cast<int64_t>(time(nullptr));
  if (a.Has("since")) q.push_back("since=" + TRY_CTX(UnixTimeArg(a.Get("since"), now), "--since"));
  if (a.Has("until")) q.push_back("until=" + TRY_CTX(UnixTimeArg(a.Get("until"), now), "--until"));
  std::string filters = TRY(FiltersQuery(a.All("filter")));
  if (!filters.empty()) q.push_back("filters=" + filters);
  std::string format = a.Get("format");
  std::optional<Template> tmpl;
  if (!format.empty() && format != "json") tmpl = TRY(Template::Parse(format));
  auto d = TRY(Daemon::Connect(g));
  JsonObjectSplitter splitter;
  Result<void> failed;
  auto on_event = [&](const std::string& text) {
    json e = json::parse(text, nullptr, false);
    if (e.is_discarded()) return true;
    if (format == "json") {
      Out(e.dump() + "\n");
    } else if (tmpl) {
      auto s = tmpl->Render(e);
      if (!s) {
        failed = Fail(std::move(s.error()));
        return false;
      }
      Out(*s + "\n");
    } else {
      Out(EventLine(e) + "\n");
    }
    return true;
  };
  TRY(d.StreamBody("GET", "/events" + (q.empty() ? "" : "?" + Join(q, "&")),
                   [&](std::string_view piece) { return splitter.Feed(piece, on_event); }));
  TRY(failed);
  return 0;
}

}  // namespace moor::cli
