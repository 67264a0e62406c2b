// app::AppBackend over the daemon's API (docs/api.md): what `moor up`,
// `down`, `scale` and `restart` do to containers, networks and volumes goes
// through the daemon's socket; images are pulled by the daemon and built in
// this process into the same store, as `moor pull` and `moor build` do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/app_backend.h"
#include "cli/context.h"
#include "cli/daemon_client.h"

namespace moor::cli {

class DaemonAppBackend : public app::AppBackend {
 public:
  // `g` gives the image store for builds (--root); `quiet` drops pull and
  // build progress (else on stderr).
  DaemonAppBackend(Daemon& d, const Globals& g, bool quiet = false) : d_(d), g_(g), quiet_(quiet) {}

  Result<std::vector<app::ContainerStatus>> ListContainers(const std::string& app) override;
  Result<app::ContainerStatus> Inspect(const std::string& id) override;

  Result<std::string> ImageId(const std::string& ref) override;
  Result<std::string> Pull(const std::string& ref) override;
  Result<std::string> Build(const app::BuildSpec& b, const std::string& tag) override;

  Result<bool> EnsureNetwork(const app::NetworkSpec& n, const std::map<std::string, std::string>& labels) override;
  Result<bool> EnsureVolume(const app::VolumeSpec& v, const std::map<std::string, std::string>& labels) override;
  Result<std::vector<std::string>> ListNetworks(const std::string& app) override;
  Result<std::vector<std::string>> ListVolumes(const std::string& app) override;
  Result<void> RemoveNetwork(const std::string& name) override;
  Result<void> RemoveVolume(const std::string& name) override;

  Result<std::string> Create(const std::string& name, const nlohmann::json& body) override;
  Result<void> PutFile(const std::string& id, const std::string& path, const std::string& content,
                       int mode) override;
  Result<void> RenderTemplates(const std::string& id) override;
  Result<void> Start(const std::string& id) override;
  Result<void> Stop(const std::string& id, int64_t timeout_ns) override;
  // In parallel: a thread and a connection of its own per container.
  std::vector<Result<void>> StopAll(const std::vector<std::string>& ids,
                                    const std::vector<int64_t>& timeouts_ns) override;
  Result<void> Remove(const std::string& id) override;

  Result<void> Signal(const std::string& id, const std::string& signal) override;
  Result<app::CodeState> PutCodeService(const std::string& app, const std::string& service,
                                        const nlohmann::json& record) override;
  Result<int64_t> DeployCode(const std::string& app, const std::string& service, const std::string& dir) override;
  Result<app::RegistrationStatus> Registration(const std::string& id) override;
  std::string LogTail(const std::string& id, int lines) override;

  int64_t NowNs() override;
  void SleepNs(int64_t ns) override;

 private:
  // The request; 404 becomes an ENOENT error with the daemon's message.
  Result<api::Response> Do(const std::string& method, const std::string& target, std::string_view body = {});

  Daemon& d_;
  const Globals& g_;
  bool quiet_;
};

// Pieces shared with the commands and tests.
// A container's inspect document → its status (ports as "0.0.0.0:8080->80/tcp, …").
app::ContainerStatus ContainerStatusFromInspect(const nlohmann::json& info);
// GET /v1/moor/registration/{id}'s answer → counts and the first problem.
app::RegistrationStatus RegistrationFromJson(const nlohmann::json& j);
// A tar holding `dirs` (relative, parents first, mode 0755) and the file `file`
// (relative) with `content` and `mode`, all owned by root.
Result<std::string> TarWithFile(const std::vector<std::string>& dirs, const std::string& file,
                                const std::string& content, int mode);

}  // namespace moor::cli
