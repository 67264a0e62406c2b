// create and start: the parent side of bringing a container up.
#pragma once

#include <string>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/container_state.h"
#include "runtime/sync_channel.h"

#include <memory>

namespace moor::runtime {

struct CreateOptions {
  std::string root;  // --root
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  bool no_pivot = false;
  bool systemd_cgroup = false;
  // `run`: the parent stays and releases the child over the sync channel
  // instead of an exec fifo.
  bool start_via_sync = false;
};

struct CreatedContainer {
  ContainerDir dir;
  ContainerState state;
  oci::Spec spec;
  SyncChannel sync;  // open only with start_via_sync
  std::shared_ptr<class ContainerCgroup> cgroup;
};

// Creates the container and leaves its process waiting for start. On any
// error everything made so far (state dir, cgroup, process) is removed.
Result<CreatedContainer> CreateContainer(const CreateOptions& opts);

// Releases a created container (through its exec fifo) and runs poststart
// hooks. REQUIRES: status created.
Result<void> StartContainer(const std::string& root, const std::string& id);

// Releases a container created with start_via_sync, then poststart hooks.
Result<void> StartCreated(CreatedContainer& c);

// `run` after the container's init was reaped by the caller: removes what
// create made, from what is still in memory (no state file reads).
Result<void> RemoveExited(CreatedContainer& c);

// Loads the container's saved config.json copy.
Result<oci::Spec> LoadSavedSpec(const ContainerDir& dir);

// Status from the live system: process alive? exec fifo present? frozen?
Status CurrentStatus(const ContainerDir& dir, const ContainerState& s);

}  // namespace moor::runtime
