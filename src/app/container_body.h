// A service of the app file → the daemon's container create body (docs/api.md,
// POST /containers/create: Docker's shape). Pure; unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "app/app_file.h"

namespace moor::app {

// Where a code service's releases are on the daemon's host, and which one a
// rolling container runs.
struct CodeBinding {
  std::string releases_dir;  // ROOT/deploy/releases/APP/SVC of the service, or of its code.from service
  int64_t release = 0;       // rolling: the release this container is pinned to (0: none yet)
};

// The create body of replica `replica` of service `s`:
// - Image, Cmd/Entrypoint (only when the file sets them), Env ("K=V", sorted),
//   ExposedPorts (expose + ports' targets), Hostname/User/WorkingDir,
//   Healthcheck (only when the file has one: Docker's shape, durations in ns;
//   disable → ["NONE"]; no test → the timings alone, the image's test),
//   StopSignal (when set), StopTimeout (seconds, rounded up; always);
// - Labels, later ones winning: moor.service = the service's key when the
//   file has no `service:` block (so NAME.service.moor and templates find it
//   by that name), the service's labels, DiscoveryLabels(s, kTemplateDir),
//   then the app labels moor.app, moor.app.service, moor.app.replica,
//   moor.app.digest (= digest), moor.app.file;
// - HostConfig: Binds none — every volume as a Mounts entry (volume: the
//   volume's real name from app.volumes, "" source = anonymous; bind; tmpfs
//   with TmpfsOptions.SizeBytes), PortBindings, Memory, NanoCpus, PidsLimit,
//   RestartPolicy, NetworkMode = the first network's real name;
// - NetworkingConfig.EndpointsConfig: every network by real name, with
//   Aliases = [service key, container name, the file's aliases…] (no
//   duplicates) and IPAMConfig.IPv4Address when given. The daemon accepts
//   endpoint settings for the NetworkMode network only: a service on several
//   networks is refused at create until it accepts more.
//
// With `code` (a service with a `code:` block; ignored for one without):
// - a read-only bind of code->releases_dir at /srv/releases (kReleasesMount,
//   app/code_release.h);
// - rolling (code.strategy, no from) and code->release > 0: a read-only bind
//   of releases_dir/N at code.path, env MOOR_RELEASE=N, labels moor.release=N
//   and moor.service.meta.moor-release=N (the catalog's release gate);
// - reload and from services: env MOOR_CODE=/srv/releases/current (a rolling
//   one with release 0, not yet pinned, gets neither env nor pin).
// These env entries override the file's. Without `code`, nothing is added.
nlohmann::json ContainerBody(const AppFile& app, const ServiceSpec& s, int replica, const std::string& digest,
                             const std::optional<CodeBinding>& code = std::nullopt);

// Labels put on the networks and volumes the app creates.
std::map<std::string, std::string> AppObjectLabels(const AppFile& app);

// What a container of `s` is made of, as one sha256 hex: ServiceDigest(s),
// the image ID it runs, and the content of each template source (in order).
// Equal digests ⇔ nothing to recreate; replicas and profiles do not count.
std::string ContainerDigest(const ServiceSpec& s, const std::string& image_id,
                            const std::vector<std::string>& template_contents);

}  // namespace moor::app
