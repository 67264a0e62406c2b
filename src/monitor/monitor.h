// The monitor process's state machine (internal to the module): one epoll
// loop owns the container's stdio, the log, the control socket and its
// clients, the restart timer and the stop deadline. Nothing in it blocks
// on a peer: clients get bounded output buffers and are dropped when full.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fd.h"
#include "monitor/log_file.h"
#include "monitor/monitor_config.h"
#include "monitor/restart_policy.h"
#include "proxy/port_proxy.h"

namespace moor::monitor {

// Output a client may have queued before it is considered gone (the daemon
// stuck or away): then it is disconnected rather than slowing the container.
inline constexpr size_t kClientBufferLimit = 4u << 20;
// stdin bytes held for the container; clients are not read beyond this.
inline constexpr size_t kStdinBufferLimit = 1u << 20;
// Output of one run kept for attach "replay".
inline constexpr size_t kReplayLimit = 1u << 20;

struct Client {
  enum class Kind { kRequest, kAttach, kSubscribe, kStopWaiter, kClosing };
  UniqueFd fd;
  Kind kind = Kind::kRequest;
  std::string in;   // request bytes until the newline
  std::string out;  // queued output
  bool in_eof = false;
  bool want_stdin = false, want_stdout = false, want_stderr = false;
  uint32_t events = 0;  // current epoll interest
  bool registered = false;
  bool dead = false;  // write failed or too slow: output is discarded
};

class Monitor {
 public:
  explicit Monitor(MonitorConfig config);
  ~Monitor();
  // Everything that must exist before the daemon is told "ready": the pid
  // file, the control socket, the log, the published ports.
  Result<void> Setup();
  // Runs the container (and its restarts) to the end; returns the exit code
  // of the monitor process.
  int Run();

 private:
  // monitor_container.cc
  Result<void> StartContainer();
  void CheckPidFile();
  void WatchPidFile();
  // oom_watch.cc: OOM events of the container's cgroup while it runs.
  void ArmOom();
  void OnOomEvent();
  void DisarmOom();
  void UnwatchPidFile();
  void OnRuntimeExit(int status);
  void AcceptConsole();
  void ReadOutput(int fd, std::string_view stream, bool drain);
  void CloseOutput(int fd);
  void DeliverOutput(std::string_view stream, std::string_view data);
  void EmitOutput(std::string_view stream, std::string_view data);
  void FlushPreStart();
  void CloseStdio();
  void PumpStdin();
  void SignalContainer(int sig);
  void Finish();
  // monitor_control.cc
  void AcceptClients();
  void OnClientEvent(uint64_t id, uint32_t events);
  void HandleRequest(uint64_t id, Client& c, std::string_view line, std::string_view rest);
  void Send(Client& c, std::string_view data);
  void SendEvent(const std::string& json_line);
  void FlushClient(Client& c);
  void UpdateClientEvents(uint64_t id, Client& c);
  void UpdateStdinClients();
  void UpdateStdinInterest();
  void DropClient(Client& c);
  void ClientStdinEof(Client& c);
  std::string StateJson();
  // monitor_loop.cc
  void WriteState();
  void Watch(int fd, uint64_t key, uint32_t events, bool modify = false);
  void Unwatch(int fd);
  void OnSignal();
  void OnTimers();
  int TimeoutMs() const;
  void Dispatch(uint64_t key, uint32_t events);
  Result<void> StartPorts();

  MonitorConfig cfg_;
  MonitorState state_;
  RestartTracker restart_;
  LogWriter log_;
  UniqueFd epoll_, signal_fd_, control_, inotify_;
  std::unique_ptr<net::PortProxy> proxy_;

  // The current run of the runtime.
  pid_t runtime_pid_ = -1;
  UniqueFd pidfd_;  // the container's init, once the pid file exists
  UniqueFd out_, err_, stdin_, pty_, console_;
  std::string stdin_buf_;
  bool stdin_close_pending_ = false;
  int stdin_attachers_ = 0;
  int64_t run_started_ms_ = 0;
  int64_t oom_baseline_ = 0;
  UniqueFd oom_event_;    // v1: eventfd registered through cgroup.event_control; v2: memory.events
  UniqueFd oom_control_;  // v1: memory.oom_control, kept open for the registration
  bool oom_seen_ = false;
  std::string start_stderr_;  // the runtime's first stderr bytes, for start errors
  // Output of the current run, for attach with "replay" (a client that
  // attaches right after start — `moor run` — sees everything). Capped.
  std::vector<std::pair<bool, std::string>> replay_;  // (is stderr, bytes)
  size_t replay_bytes_ = 0;
  // Output before the container's pid is known: the runtime's own error when
  // the start fails (then it goes to state.error only, not to the log), else
  // the container's first bytes, passed on once the pid file is seen.
  std::vector<std::pair<std::string, std::string>> pre_start_;
  size_t pre_start_bytes_ = 0;
  bool kill_sent_ = false;
  bool stdin_out_watched_ = false;
  unsigned short rows_ = 0, cols_ = 0;  // last resize, applied when the pty arrives

  // Stop and restart.
  bool stop_requested_ = false;
  int stop_signal_ = 15;  // of the pending stop, re-sent once the container pid is known
  int64_t kill_at_ms_ = -1;
  int64_t restart_at_ms_ = -1;
  int64_t pid_poll_at_ms_ = -1;
  bool finished_ = false;
  int64_t finish_deadline_ms_ = -1;

  std::map<uint64_t, Client> clients_;
  uint64_t next_client_ = 1;
};

int64_t MonotonicMs();

}  // namespace moor::monitor
