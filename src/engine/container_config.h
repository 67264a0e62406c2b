// A container's configuration as the engine keeps it: the validated form of
// Docker's create body (docs/api.md). Parsed once at create, stored in the
// state store as JSON (ToJson/FromJson round-trip exactly), turned into an
// OCI spec at every start (container_spec.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::engine {

struct PortBinding {
  int container_port = 0;
  bool udp = false;
  std::string host_ip;  // "" = all addresses (0.0.0.0)
  int host_port = 0;    // 0 = pick a free port at start
  bool operator==(const PortBinding&) const = default;
};

struct MountSpec {
  std::string type;    // "bind" | "volume" | "tmpfs"
  std::string source;  // host path (bind), volume name (volume; "" = anonymous), "" (tmpfs)
  std::string target;  // absolute container path
  bool read_only = false;
  std::string propagation;    // bind: "" (rprivate) | private | rprivate | shared | rshared | slave | rslave
  int64_t tmpfs_size = 0;     // bytes, 0 = kernel default
  uint32_t tmpfs_mode = 0;    // 0 = 01777
  bool tmpfs_noexec = false;  // Tmpfs "noexec" (tmpfs mounts are always nosuid,nodev)
  bool operator==(const MountSpec&) const = default;
};

struct RestartPolicySpec {
  std::string name = "no";  // no | on-failure | always | unless-stopped
  int max_retries = 0;
  bool operator==(const RestartPolicySpec&) const = default;
};

struct HealthSpec {
  // Docker's forms: {"NONE"}, {"CMD", args...}, {"CMD-SHELL", "cmd"}; moor's
  // built-in probes: {"TCP", "PORT"}, {"HTTP", "PORT", "/path"[, "STATUS"]}.
  std::vector<std::string> test;
  int64_t interval_ns = 30'000'000'000;
  int64_t timeout_ns = 30'000'000'000;
  int64_t start_period_ns = 0;
  int retries = 3;
  bool operator==(const HealthSpec&) const = default;
};

struct ResourceSpec {
  int64_t memory = 0;       // bytes; 0 = unlimited
  int64_t memory_swap = 0;  // bytes incl. memory; -1 = unlimited swap; 0 = 2× memory (Docker)
  int64_t nano_cpus = 0;    // --cpus 1.5 → 1'500'000'000
  int64_t cpu_shares = 0;
  std::string cpuset_cpus;
  int64_t pids_limit = 0;  // 0 = unlimited
  int blkio_weight = 0;    // 10…1000, 0 = unset
  bool oom_kill_disable = false;
  bool operator==(const ResourceSpec&) const = default;
};

struct ContainerConfig {
  std::string image;  // as given by the user ("busybox", "reg:5000/app:1")
  std::vector<std::string> cmd;
  std::optional<std::vector<std::string>> entrypoint;
  std::vector<std::string> env;
  std::string user;
  std::string working_dir;
  std::string hostname;
  bool tty = false;
  bool open_stdin = false;
  std::map<std::string, std::string> labels;
  std::string stop_signal;                 // "" = image's StopSignal or SIGTERM
  std::optional<int> stop_timeout;         // seconds; default 10
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::optional<HealthSpec> healthcheck;   // nullopt = the image's HEALTHCHECK

  // HostConfig
  std::vector<MountSpec> mounts;  // Binds, Mounts and Tmpfs together
  std::vector<PortBinding> ports;
  std::string network_mode = "bridge";  // bridge | host | none | container:NAME | NETWORK name
  std::string ipv4_address;             // requested address in that network ("" = IPAM)
  std::vector<std::string> network_aliases;
  RestartPolicySpec restart;
  bool auto_remove = false;
  bool init = false;
  bool read_only_rootfs = false;
  ResourceSpec resources;
  std::string runtime;  // "" = the daemon's default
  bool operator==(const ContainerConfig&) const = default;
};

// Docker's create body → ContainerConfig. Bad values give one line naming the
// field and the value ("HostConfig.PortBindings: \"80/xyz\": protocol must be
// tcp or udp"). Accepts Binds ("SRC:DST[:ro|rw][,propagation]"; SRC not
// absolute = named volume; DST alone = anonymous volume), Mounts, Tmpfs
// ("size=64m,mode=1777"), Config "Volumes" (anonymous volumes). A field moor
// does not know is accepted only when it holds its zero value (null, false, 0,
// "", [], {}), so Docker clients that send every field still work.
// Entrypoint [] and [""] both mean "cleared" (stored as an empty vector), with
// image::SpecForImage's rule that the image's Cmd is then dropped too.
// A Healthcheck with an empty Test keeps the image's (healthcheck = nullopt);
// zero durations/retries take HealthSpec's defaults.
Result<ContainerConfig> ParseCreateBody(const std::string& json);
std::string ToJson(const ContainerConfig& c);
Result<ContainerConfig> FromJson(const std::string& json);
// Docker's inspect "Config" and "HostConfig" objects for this config.
std::string InspectConfigJson(const ContainerConfig& c);
std::string InspectHostConfigJson(const ContainerConfig& c);

}  // namespace moor::engine
