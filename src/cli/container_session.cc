#include "cli/container_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/attach_io.h"
#include "cli/stream_demux.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads a chunked streamed response (the wait endpoint) off a raw
// connection and returns its last JSON object.
Result<json> ReadStreamedJson(int fd, const std::string& pending) {
  ChunkedDecoder dec;
  std::string body;
  TRY(dec.Feed(pending, &body));
  char buf[4096];
  while (!dec.Done()) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("wait for the container");
    if (n == 0) break;
    TRY(dec.Feed(std::string_view(buf, static_cast<size_t>(n)), &body));
  }
  auto end = body.rfind('}');
  if (end == std::string::npos) return FailInvalid("wait: the daemon ended the stream without a status");
  // The last object on the stream: scan back to its matching '{'.
  int depth = 0;
  for (size_t i = end + 1; i-- > 0;) {
    if (body[i] == '}') ++depth;
    if (body[i] == '{' && --depth == 0) return ParseJson(body.substr(i, end - i + 1), "wait");
  }
  return FailInvalid("wait: unreadable status from the daemon");
}

int StatusFromWait(const json& w) {
  if (w.contains("Error") && w["Error"].is_object() && w["Error"].contains("Message")) {
    std::string m = w["Error"]["Message"].is_string() ? w["Error"]["Message"].get<std::string>() : "";
    if (!m.empty()) std::fprintf(stderr, "moor: %s\n", m.c_str());
  }
  return w.value("StatusCode", 0);
}

}  // namespace

Error StartError(Error e) {
  std::string m = Lower(e.message());
  int code = kExitDaemonError;
  if (m.find("executable file not found") != std::string::npos ||
      m.find("no such file or directory") != std::string::npos ||
      m.find("command not found") != std::string::npos) {
    code = 127;
  } else if (m.find("permission denied") != std::string::npos ||
             m.find("cannot execute") != std::string::npos) {
    code = 126;
  }
  if (e.exit_code() == 126 || e.exit_code() == 127) code = e.exit_code();
  return std::move(e).WithExitCode(code);
}

Result<json> InspectContainer(Daemon& d, const std::string& ref) {
  return d.GetJson("/containers/" + Esc(ref) + "/json");
}

Result<void> PullImage(Daemon& d, const std::string& ref, bool quiet) {
  std::string failure;
  std::string partial;
  auto on_data = [&](std::string_view piece) {
    partial.append(piece);
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, nl);
      partial.erase(0, nl + 1);
      json j = json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.contains("error")) {
        failure = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
        continue;
      }
      if (quiet || !j.contains("status")) continue;
      std::string s = j.contains("id") ? j.value("id", "") + ": " : "";
      s += j.value("status", "");
      if (j.contains("progress") && j["progress"].is_string()) s += " " + j["progress"].get<std::string>();
      std::fprintf(stderr, "%s\n", s.c_str());
    }
    return true;
  };
  TRY(d.StreamBody("POST", "/images/create?fromImage=" + Esc(ref), on_data));
  if (!failure.empty()) return FailInvalid(failure);
  return {};
}

Result<std::string> CreateContainer(Daemon& d, const ContainerOptions& o) {
  if (o.pull == "always") TRY(PullImage(d, o.image, o.quiet));
  std::string target = "/containers/create";
  if (!o.name.empty()) target += "?name=" + Esc(o.name);
  std::string body = o.body.dump();
  api::Headers h = {{"content-type", "application/json"}};
  auto r = TRY(d.http().Do("POST", target, body, h));
  if (r.status == 404 && o.pull == "missing" &&
      Lower(ResponseError(r).message()).find("image") != std::string::npos) {
    // One line when the pull fails too (no registry, no network, a typo).
    auto pulled = PullImage(d, o.image, /*quiet=*/true);
    if (!pulled) {
      return FailInvalid("no such image: " + o.image + " (not here, and pulling it failed: " +
                         pulled.error().message() + ")");
    }
    r = TRY(d.http().Do("POST", target, body, h));
  }
  if (r.status >= 300) return Fail(ResponseError(r));
  json j = TRY(ParseJson(r.body, "create"));
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    return FailInvalid("create: the daemon's answer has no container Id");
  }
  if (j.contains("Warnings") && j["Warnings"].is_array()) {
    for (auto& w : j["Warnings"]) {
      if (w.is_string()) std::fprintf(stderr, "WARNING: %s\n", w.get<std::string>().c_str());
    }
  }
  return j["Id"].get<std::string>();
}

Result<int> RunAttached(Daemon& d, const std::string& id, bool tty, bool with_stdin, bool start,
                        const std::string& wait_condition,
                        bool remove_if_start_fails) {
  const std::string base = "/containers/" + Esc(id);
  // The wait is registered before the start, on its own connection, so a
  // container that exits at once cannot be missed; the daemon answers the
  // headers right away and the status when the condition is met.
  api::UnixHttpClient wait_client(d.socket_path());
  UniqueFd wait_conn;
  std::string wait_pending;
  if (!wait_condition.empty()) {
    wait_conn =
        TRY(wait_client.Upgrade("POST", base + "/wait?condition=" + wait_condition, {}, &wait_pending));
  }
  api::UnixHttpClient attach_client(d.socket_path());
  std::string pending;
  std::string q = std::string("/attach?stream=1&stdout=1&stderr=1&stdin=") + (with_stdin ? "1" : "0");
  UniqueFd conn = TRY(attach_client.Upgrade("POST", base + q, {}, &pending));

  auto resize = [&] {
    int rows = 0, cols = 0;
    if (!tty || !TerminalSize(&rows, &cols)) return;
    api::UnixHttpClient c(d.socket_path());
    (void)c.Do("POST", base + "/resize?h=" + std::to_string(rows) + "&w=" + std::to_string(cols));
  };
  // Without a TTY, Ctrl-C / SIGTERM go to the container (docker's --sig-proxy);
  // with one, the terminal sends ^C as a byte.
  auto forward = [&](int sig) {
    api::UnixHttpClient c(d.socket_path());
    (void)c.Do("POST", base + "/kill?signal=" + std::to_string(sig));
  };
  SignalRelay relay(resize, forward);
  std::optional<RawTerminal> raw;
  if (tty && with_stdin) raw.emplace();
  if (start) {
    auto s = d.Call("POST", base + "/start");
    if (!s) {
      if (raw) raw->Restore();
      // `moor run` leaves nothing behind when the start fails (port in use,
      // command not found): the container it just made goes too.
      if (remove_if_start_fails) (void)d.Call("DELETE", base + "?force=1&v=1");
      return Fail(StartError(std::move(s.error())));
    }
  }
  resize();
  auto pumped = PumpSession(conn.get(), pending, tty, with_stdin);
  if (raw) raw->Restore();
  TRY(pumped);
  if (wait_conn) {
    auto w = ReadStreamedJson(wait_conn.get(), wait_pending);
    if (w) return StatusFromWait(*w);
    if (wait_condition == "removed") return Fail(std::move(w.error()));
  }
  // Attach to a running container (or a failed wait): the state says it.
  auto info = TRY(InspectContainer(d, id));
  const json& st = info.contains("State") ? info["State"] : json::object();
  if (st.value("Running", false)) return 0;  // our attach ended, not the container
  return st.value("ExitCode", 0);
}

}  // namespace moor::cli
