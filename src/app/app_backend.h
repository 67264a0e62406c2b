// What the app executor (app_executor.h) needs from the daemon, as a role:
// list an app's containers, make networks, volumes and containers, put
// files into them, start/stop/remove them, and ask whether they are ready.
// In the CLI it is the daemon's API (cli/daemon_app_backend.h); in tests a
// fake, so the executor's rules are unit-tested without a daemon.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/app_file.h"
#include "common/error.h"

namespace moor::app {

// The labels an app's containers, networks and volumes carry.
inline constexpr const char* kLabelApp = "moor.app";                  // the app's name
inline constexpr const char* kLabelService = "moor.app.service";      // the service's key
inline constexpr const char* kLabelReplica = "moor.app.replica";      // the number in its name
inline constexpr const char* kLabelDigest = "moor.app.digest";        // ContainerDigest()
inline constexpr const char* kLabelFile = "moor.app.file";            // the app file (informational)
// Where template sources are copied inside a container.
inline constexpr const char* kTemplateDir = "/etc/moor/templates";

struct ContainerStatus {
  std::string id;
  std::string name;
  std::map<std::string, std::string> labels;
  std::string state;  // created | running | paused | restarting | exited | dead | removing
  int exit_code = 0;
  std::string health;  // "" (no healthcheck) | starting | healthy | unhealthy
  int restart_count = 0;
  std::string ip;     // on its first network ("" when none)
  std::string ports;  // published ports, as `moor ps` shows them ("0.0.0.0:8080->80/tcp, …")
};

// The container's discovery instances (GET /v1/moor/registration/{id}).
struct RegistrationStatus {
  int instances = 0;  // how many its labels ask for (0: not a service)
  int passing = 0;    // of them, in the catalog and passing (or warning)
  int templates = 0;  // templates its labels declare
  int rendered = 0;   // of them, rendered into the container at least once
  std::string detail;  // e.g. "php:9000 pending: dial tcp 10.89.0.5:9000: connection refused"
};

// A service with `code:` as the node's deploy service knows it.
struct CodeState {
  std::string releases_dir;  // ROOT/deploy/releases/APP/SVC on the node
  int64_t live_release = 0;  // 0: none yet
};

class AppBackend {
 public:
  virtual ~AppBackend() = default;

  // Every container (any state) labelled moor.app=APP, sorted by name.
  virtual Result<std::vector<ContainerStatus>> ListContainers(const std::string& app) = 0;
  // ENOENT when it is gone.
  virtual Result<ContainerStatus> Inspect(const std::string& id) = 0;

  // The image's ID; "" when the image is not present (not an error).
  virtual Result<std::string> ImageId(const std::string& ref) = 0;
  // Pulls the image (from its registry) and returns its ID.
  virtual Result<std::string> Pull(const std::string& ref) = 0;
  // Builds b.context (b.dockerfile, b.args) and tags the result `tag`; returns the ID.
  virtual Result<std::string> Build(const BuildSpec& b, const std::string& tag) = 0;

  // Networks and volumes by their real names. Ensure*: creates it with
  // `labels` unless one of that name exists; true when it was created.
  virtual Result<bool> EnsureNetwork(const NetworkSpec& n, const std::map<std::string, std::string>& labels) = 0;
  virtual Result<bool> EnsureVolume(const VolumeSpec& v, const std::map<std::string, std::string>& labels) = 0;
  // Names of the networks / volumes labelled moor.app=APP.
  virtual Result<std::vector<std::string>> ListNetworks(const std::string& app) = 0;
  virtual Result<std::vector<std::string>> ListVolumes(const std::string& app) = 0;
  // ENOENT when it does not exist.
  virtual Result<void> RemoveNetwork(const std::string& name) = 0;
  virtual Result<void> RemoveVolume(const std::string& name) = 0;

  // POST /containers/create?name=NAME with `body`; returns the ID.
  virtual Result<std::string> Create(const std::string& name, const nlohmann::json& body) = 0;
  // Writes one file into a container (created or running), making parent directories.
  virtual Result<void> PutFile(const std::string& id, const std::string& path, const std::string& content,
                               int mode) = 0;
  // Renders the container's templates into it from the catalog (POST
  // /v1/moor/render/{id}); for a container not started yet. A daemon without
  // discovery: nothing to do (not an error).
  virtual Result<void> RenderTemplates(const std::string& id) = 0;
  virtual Result<void> Start(const std::string& id) = 0;
  // Stops with the container's stop signal; SIGKILL after timeout_ns (< 0:
  // the container's own stop timeout). The daemon deregisters and drains it
  // before the signal.
  virtual Result<void> Stop(const std::string& id, int64_t timeout_ns) = 0;
  // Stops several containers at once (each as Stop; timeouts_ns[i] for
  // ids[i]); one result per container, in order. A container already gone
  // is ENOENT in its result.
  virtual std::vector<Result<void>> StopAll(const std::vector<std::string>& ids,
                                            const std::vector<int64_t>& timeouts_ns) = 0;
  // Removes it (force: a running one is killed) with its anonymous volumes.
  virtual Result<void> Remove(const std::string& id) = 0;

  // Sends a signal ("SIGUSR2") to a running container's process, as `moor kill -s` does.
  virtual Result<void> Signal(const std::string& id, const std::string& signal) {
    (void)id;
    return FailInvalid("cannot send " + signal + ": this backend does not signal containers");
  }

  // Code services (docs/deploy.md). Records the service with the node's
  // deploy service (PUT /v1/moor/deploy/services/APP/SVC: strategy, the body
  // of a new replica, …) and says where its releases are.
  virtual Result<CodeState> PutCodeService(const std::string& app, const std::string& service,
                                           const nlohmann::json& record) {
    (void)app;
    (void)record;
    return FailInvalid("service " + service + " has code: but this backend does not deploy code");
  }
  // Ships `dir` as the service's next release unless it is live already
  // (moor deploy's protocol); returns the live release.
  virtual Result<int64_t> DeployCode(const std::string& app, const std::string& service, const std::string& dir) {
    (void)app;
    (void)dir;
    return FailInvalid("service " + service + " has code: but this backend does not deploy code");
  }

  virtual Result<RegistrationStatus> Registration(const std::string& id) = 0;
  // The last lines of its logs (for error messages); "" when none.
  virtual std::string LogTail(const std::string& id, int lines) = 0;

  // Time, so tests need not wait.
  virtual int64_t NowNs() = 0;  // monotonic
  virtual void SleepNs(int64_t ns) = 0;
};

}  // namespace moor::app
