// What the daemon tells a container's monitor process (`moor monitor
// --config FILE`), and the monitor's control protocol.
//
// The monitor (one per container, like conmon) is started by the daemon,
// detaches (setsid, double fork so it is nobody's child but init's), becomes
// a child subreaper, and runs the OCI runtime in the foreground:
//   RUNTIME... run --bundle BUNDLE [--console-socket SOCK] --pid-file PIDFILE ID
// It owns the container's stdio (pipes, or the pty master with tty), reads
// them itself so the container never blocks or gets EPIPE while the daemon is
// away, writes the json-file log, serves published ports (net/port_proxy.h),
// applies the restart policy with exponential backoff, records every state
// change atomically to DIR/state.json, and answers on DIR/monitor.sock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace moor::monitor {

struct RestartPolicy {
  std::string name = "no";  // no | on-failure | always | unless-stopped
  int max_retries = 0;      // on-failure only; 0 = unlimited
};

struct PublishedPort {
  int fd = -1;  // inherited listening socket (daemon bound it)
  bool udp = false;
  std::string backend_ip;  // container address
  int backend_port = 0;
};

struct MonitorConfig {
  std::string id;
  std::string dir;  // runtime dir of the container: state.json, monitor.sock, monitor.pid, pid
  std::vector<std::string>
      runtime;               // argv prefix, e.g. {"/usr/bin/moor-runtime", "--root", "/run/moor/runtime"}
  std::string bundle;        // contains config.json; rootfs already mounted by the daemon
  std::string log_path;      // json-file log; rotated to log_path.1 … .N-1
  int64_t log_max_size = 0;  // bytes; 0 = no rotation
  int log_max_files = 1;
  bool tty = false;
  bool open_stdin = false;  // -i: stdin is a pipe fed by attach clients; else /dev/null
  RestartPolicy restart;
  std::vector<PublishedPort> ports;
  // File whose change reports an OOM kill of the container's cgroup:
  // cgroup v2 "memory.events" (oom_kill N) or v1 "memory.oom_control"
  // (oom_kill N). Empty: OOM not detected.
  std::string oom_file;
  int stop_signal = 15;
};

Result<std::string> MonitorConfigToJson(const MonitorConfig& c);
Result<MonitorConfig> MonitorConfigFromJson(const std::string& json);

// DIR/state.json, written atomically on every change.
struct MonitorState {
  std::string status;  // "starting" | "running" | "restarting" | "exited"
  int pid = 0;         // container init pid while running
  int monitor_pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  int restart_count = 0;
  std::string started_at;         // RFC 3339 with nanoseconds, UTC
  std::string finished_at;        // last exit
  bool manually_stopped = false;  // stop/kill through the control socket
  std::string error;              // the runtime failed to start the container: its message
};

Result<std::string> MonitorStateToJson(const MonitorState& s);
Result<MonitorState> MonitorStateFromJson(const std::string& json);
Result<MonitorState> ReadMonitorState(const std::string& dir);

// Control protocol on DIR/monitor.sock: the client sends one JSON object and
// a newline; the monitor answers one JSON line, except "attach" and
// "subscribe", after whose first answer line the connection stays open:
//   {"op":"state"}                          → MonitorState
//   {"op":"stop","signal":15,"timeout":10}  → stops (no restart), SIGKILL after
//                                             timeout s; answers when exited: MonitorState
//   {"op":"kill","signal":9}                → {"ok":true}; a kill that ends the
//                                             container counts as a manual stop
//   {"op":"subscribe"}                      → {"ok":true}, then one JSON line per event:
//        {"event":"start","pid":N} {"event":"die","exit_code":N,"oom_killed":b}
//        {"event":"restart","restart_count":N,"delay_ms":N} {"event":"exit"} (monitor ends)
//   {"op":"attach","stdin":b,"stdout":b,"stderr":b} → {"ok":true}, then raw:
//        output in Docker's multiplexed framing ([stream,0,0,0,len BE32] +
//        payload; stream 1 stdout, 2 stderr) without tty, raw bytes with tty;
//        bytes the client sends go to the container's stdin (if open_stdin);
//        the client closing its write side closes the container's stdin only
//        when it was the one attach with stdin.
//   {"op":"resize","height":H,"width":W}    → {"ok":true} (tty)
// An answer {"error":"…"} (bad request, not running) is returned as an error
// carrying that message.
//
// Helper for clients (the daemon): one request, one answer line (without "\n").
// A stop waits for the container: give it a timeout_ms beyond the stop timeout.
Result<std::string> MonitorRequest(const std::string& dir, const std::string& request_json, int timeout_ms);
// For "attach" and "subscribe": sends the request, reads the first answer line
// into *first_line (byte by byte, so nothing after it is consumed) and returns
// the connected socket for the stream that follows.
Result<UniqueFd> MonitorOpenStream(const std::string& dir, const std::string& request_json, int timeout_ms,
                                   std::string* first_line);

// Entry point of `moor monitor --config FILE`; returns the process's exit code.
int MonitorMain(const std::string& config_path);

}  // namespace moor::monitor
