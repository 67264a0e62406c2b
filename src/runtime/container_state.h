// What the runtime records about a container in <root>/<id>/state.json, and
// how its status is derived from the live system (never trusted from disk).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::runtime {

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* StatusName(Status s);

struct ContainerState {
  std::string id;
  std::string bundle;  // absolute
  std::string rootfs;  // absolute
  pid_t pid = 0;
  uint64_t pid_start_time = 0;  // /proc/<pid>/stat field 22: detects pid reuse
  std::string created;           // RFC 3339, UTC
  std::string cgroups_path;      // linux.cgroupsPath as given
  // The cgroup directories made at create (see cgroups::CgroupPaths): later
  // commands rebuild the manager from these instead of re-resolving.
  std::map<std::string, std::string> cgroup_v1;
  std::string cgroup_unified;
  std::vector<std::string> cgroup_ancestors;
  std::map<std::string, std::string> annotations;
  std::string owner;
};

// Container ids: 1-1024 chars of [A-Za-z0-9_.+-], not "." or "..".
Result<void> ValidateContainerId(const std::string& id);

// The directory of one container under the runtime root.
struct ContainerDir {
  std::string root;  // --root
  std::string id;
  std::string dir() const { return root + "/" + id; }
  std::string state_file() const { return dir() + "/state.json"; }
  std::string config_file() const { return dir() + "/config.json"; }
  std::string fifo() const { return dir() + "/exec.fifo"; }
};

std::string SerializeState(const ContainerState& s);
Result<ContainerState> ParseState(std::string_view json);
Result<ContainerState> LoadState(const ContainerDir& dir);
Result<void> SaveState(const ContainerDir& dir, const ContainerState& s);

// Start time of a process (clock ticks since boot) or 0 when it is gone.
uint64_t ProcessStartTime(pid_t pid);
// True when `pid` still is the process recorded (same start time, not a zombie).
bool ProcessAlive(pid_t pid, uint64_t start_time);

// The OCI state JSON printed by `state` (runc's shape: ociVersion, id, pid,
// status, bundle, rootfs, created, owner, annotations).
std::string OciStateJson(const ContainerState& s, Status status);

std::string NowRfc3339();

}  // namespace moor::runtime
