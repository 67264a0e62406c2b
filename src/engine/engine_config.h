// The daemon's configuration (flags of `moor daemon`, optionally a JSON file)
// and the paths derived from it.
#pragma once

#include <map>
#include <string>

namespace moor::engine {

struct EngineConfig {
  std::string root = "/var/lib/moor";  // state.db, images, containers/, volumes/
  std::string run_root = "/run/moor";  // sockets, monitor dirs, netns pins, runtime state
  std::string socket;                  // "" = run_root/moor.sock
  // OCI runtimes by name; "moor" is moor-runtime (found next to the moor binary
  // unless given). Others: "runc", "crun" → looked up on PATH unless given.
  std::map<std::string, std::string> runtimes;
  std::string default_runtime = "moor";
  std::string init_path;         // moor-init for --init ("" = next to the moor binary)
  // moor-monitor ("" = next to the moor binary; if absent, `moor monitor`
  // through /proc/self/exe — the same code, but a heavier exec).
  std::string monitor_path;
  std::string bridge = "moor0";  // default network's bridge interface
  std::string default_subnet = "10.89.0.0/16";
  int mtu = 1500;
  bool masquerade = true;  // nftables masquerade for bridge networks' outbound traffic
  int64_t log_max_size = 20 * 1024 * 1024;  // per container log file before rotation
  int log_max_files = 5;
  std::string metrics_addr;  // --metrics-addr IP:PORT: GET /metrics on TCP too ("" = the socket only)

  std::string Socket() const { return socket.empty() ? run_root + "/moor.sock" : socket; }
  std::string StateDb() const { return root + "/state.db"; }
  // Persistent per-container dir: upper/work dirs, bundle, log, hosts files.
  std::string ContainerDir(const std::string& id) const { return root + "/containers/" + id; }
  // Runtime dir of a container's monitor (short: unix socket paths ≤ 107 bytes).
  // The first 24 hex digits of the ID (96 bits) keep DIR/monitor.sock within
  // a unix socket path's 107 bytes for exec roots up to 64 characters.
  std::string MonitorDir(const std::string& id) const { return run_root + "/c/" + id.substr(0, 24); }
  static constexpr size_t kMaxRunRootLength = 64;
  std::string NetnsDir() const { return run_root + "/netns"; }
  std::string RuntimeRoot() const { return run_root + "/runtime"; }
  std::string VolumesDir() const { return root + "/volumes"; }
};

}  // namespace moor::engine
