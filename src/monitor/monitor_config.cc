// JSON of the monitor's config and state, and the control-socket client.
#include "monitor/monitor_config.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "monitor/unix_socket.h"

namespace moor::monitor {

using nlohmann::json;

namespace {

bool ValidPolicy(const std::string& name) {
  return name == "no" || name == "on-failure" || name == "always" || name == "unless-stopped";
}

int64_t MonoMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Result<void> SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("send to monitor");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Reads one line byte by byte (answers are short) until deadline.
Result<std::string> ReadLine(int fd, int64_t deadline_ms) {
  std::string line;
  for (;;) {
    int64_t left = deadline_ms - MonoMs();
    if (left <= 0) return Fail(Error(ETIMEDOUT, "monitor did not answer in time"));
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0) {
      if (errno == EINTR) continue;
      return FailErrno("poll monitor socket");
    }
    if (r == 0) continue;
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read from monitor");
    }
    if (n == 0) return Fail(Error(ECONNRESET, "monitor closed the connection without answering"));
    if (c == '\n') return line;
    line += c;
    if (line.size() > (1u << 20)) return FailInvalid("monitor answer too long");
  }
}

Result<UniqueFd> Exchange(const std::string& dir, const std::string& request_json, int timeout_ms,
                          std::string* answer) {
  int64_t deadline = MonoMs() + timeout_ms;
  UniqueFd fd = TRY_CTX(ConnectUnix(dir + "/monitor.sock"), "connect to container monitor");
  std::string req = request_json;
  if (req.empty() || req.back() != '\n') req += '\n';
  TRY(SendAll(fd.get(), req));
  *answer = TRY(ReadLine(fd.get(), deadline));
  auto j = json::parse(*answer, nullptr, false);
  if (j.is_discarded()) return FailInvalid("monitor answered with invalid JSON: " + answer->substr(0, 200));
  // Error answers are {"error":"…"} alone; a MonitorState also has an "error" field.
  if (j.is_object() && j.size() == 1 && j.contains("error") && j["error"].is_string())
    return FailInvalid(j["error"].get<std::string>());
  return fd;
}

}  // namespace

Result<std::string> MonitorConfigToJson(const MonitorConfig& c) {
  json ports = json::array();
  for (const auto& p : c.ports)
    ports.push_back(
        {{"fd", p.fd}, {"udp", p.udp}, {"backend_ip", p.backend_ip}, {"backend_port", p.backend_port}});
  json j = {{"id", c.id},
            {"dir", c.dir},
            {"runtime", c.runtime},
            {"bundle", c.bundle},
            {"log_path", c.log_path},
            {"log_max_size", c.log_max_size},
            {"log_max_files", c.log_max_files},
            {"tty", c.tty},
            {"open_stdin", c.open_stdin},
            {"restart", {{"name", c.restart.name}, {"max_retries", c.restart.max_retries}}},
            {"ports", ports},
            {"oom_file", c.oom_file},
            {"stop_signal", c.stop_signal}};
  return j.dump();
}

Result<MonitorConfig> MonitorConfigFromJson(const std::string& text) {
  MonitorConfig c;
  try {
    json j = json::parse(text);
    c.id = j.at("id").get<std::string>();
    c.dir = j.at("dir").get<std::string>();
    c.runtime = j.at("runtime").get<std::vector<std::string>>();
    c.bundle = j.at("bundle").get<std::string>();
    c.log_path = j.value("log_path", std::string());
    c.log_max_size = j.value("log_max_size", int64_t{0});
    c.log_max_files = j.value("log_max_files", 1);
    c.tty = j.value("tty", false);
    c.open_stdin = j.value("open_stdin", false);
    if (j.contains("restart")) {
      c.restart.name = j["restart"].value("name", std::string("no"));
      c.restart.max_retries = j["restart"].value("max_retries", 0);
    }
    if (j.contains("ports")) {
      for (const auto& p : j["ports"]) {
        PublishedPort port;
        port.fd = p.at("fd").get<int>();
        port.udp = p.value("udp", false);
        port.backend_ip = p.at("backend_ip").get<std::string>();
        port.backend_port = p.at("backend_port").get<int>();
        c.ports.push_back(std::move(port));
      }
    }
    c.oom_file = j.value("oom_file", std::string());
    c.stop_signal = j.value("stop_signal", 15);
  } catch (const json::exception& e) {
    return FailInvalid(std::string("monitor config: ") + e.what());
  }
  if (c.id.empty()) return FailInvalid("monitor config: id is empty");
  if (c.dir.empty() || c.dir.front() != '/')
    return FailInvalid("monitor config: dir must be an absolute path");
  if (c.runtime.empty()) return FailInvalid("monitor config: runtime is empty");
  if (c.bundle.empty()) return FailInvalid("monitor config: bundle is empty");
  if (!ValidPolicy(c.restart.name))
    return FailInvalid("monitor config: restart.name \"" + c.restart.name +
                       "\": expected no, on-failure, always or unless-stopped");
  if (c.restart.max_retries < 0) return FailInvalid("monitor config: restart.max_retries must be >= 0");
  if (c.log_max_files < 1) return FailInvalid("monitor config: log_max_files must be >= 1");
  if (c.log_max_size < 0) return FailInvalid("monitor config: log_max_size must be >= 0");
  if (c.stop_signal < 1 || c.stop_signal > 64) return FailInvalid("monitor config: stop_signal out of range");
  return c;
}

Result<std::string> MonitorStateToJson(const MonitorState& s) {
  json j = {{"status", s.status},
            {"pid", s.pid},
            {"monitor_pid", s.monitor_pid},
            {"exit_code", s.exit_code},
            {"oom_killed", s.oom_killed},
            {"restart_count", s.restart_count},
            {"started_at", s.started_at},
            {"finished_at", s.finished_at},
            {"manually_stopped", s.manually_stopped},
            {"error", s.error}};
  // Invalid UTF-8 in an error message from the runtime must not make the dump throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<MonitorState> MonitorStateFromJson(const std::string& text) {
  MonitorState s;
  try {
    json j = json::parse(text);
    s.status = j.at("status").get<std::string>();
    s.pid = j.value("pid", 0);
    s.monitor_pid = j.value("monitor_pid", 0);
    s.exit_code = j.value("exit_code", 0);
    s.oom_killed = j.value("oom_killed", false);
    s.restart_count = j.value("restart_count", 0);
    s.started_at = j.value("started_at", std::string());
    s.finished_at = j.value("finished_at", std::string());
    s.manually_stopped = j.value("manually_stopped", false);
    s.error = j.value("error", std::string());
  } catch (const json::exception& e) {
    return FailInvalid(std::string("monitor state: ") + e.what());
  }
  return s;
}

Result<MonitorState> ReadMonitorState(const std::string& dir) {
  std::string text = TRY(ReadFile(dir + "/state.json"));
  return TRY_CTX(MonitorStateFromJson(text), dir + "/state.json");
}

Result<std::string> MonitorRequest(const std::string& dir, const std::string& request_json, int timeout_ms) {
  std::string answer;
  TRY(Exchange(dir, request_json, timeout_ms, &answer));
  return answer;
}

Result<UniqueFd> MonitorOpenStream(const std::string& dir, const std::string& request_json, int timeout_ms,
                                   std::string* first_line) {
  return Exchange(dir, request_json, timeout_ms, first_line);
}

}  // namespace moor::monitor
