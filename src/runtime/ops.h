// One function per runtime command (runc's command line). Each returns an
// error with a one-line message; the CLI prints it and exits non-zero.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/launcher.h"

namespace moor::runtime {

// delete [--force]: kills (with force), removes the cgroup, runs poststop
// hooks, removes the state. A container whose creation was interrupted is
// cleaned up from whatever it left.
Result<void> DeleteContainer(const std::string& root, const std::string& id, bool force);

// kill [--all] ID SIGNAL
Result<void> KillContainer(const std::string& root, const std::string& id, int signal, bool all);
// "TERM", "SIGTERM", "15" → 15.
Result<int> ParseSignal(const std::string& s);

// state ID → OCI state JSON
Result<std::string> StateJson(const std::string& root, const std::string& id);

// list [--format table|json]
Result<std::string> ListContainers(const std::string& root, bool json);

// ps ID: pids of every process of the container.
Result<std::vector<pid_t>> ContainerPids(const std::string& root, const std::string& id);

Result<void> PauseContainer(const std::string& root, const std::string& id);
Result<void> ResumeContainer(const std::string& root, const std::string& id);

// update: applies resources live.
Result<void> UpdateContainer(const std::string& root, const std::string& id, const oci::Resources& r);

// run: create + start + wait; returns the exit code (128+N for signal N).
// With detach: create + start, returns 0.
Result<int> RunContainer(const CreateOptions& opts, bool detach, bool keep);

struct ExecOptions {
  std::string root;
  std::string id;
  oci::Process process;
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  bool detach = false;
};
// exec: runs a new process in the container; returns its exit code (or 0
// with detach, once it is started).
Result<int> ExecInContainer(const ExecOptions& opts);

// spec: default config.json text (rootless: with a user namespace).
std::string DefaultSpecJson(bool rootless);
// features: the runtime-spec features document.
std::string FeaturesJson();

}  // namespace moor::runtime
