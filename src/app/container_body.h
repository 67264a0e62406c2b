// A service of the app file → the daemon's container create body (docs/api.md,
// POST /containers/create: Docker's shape). Pure; unit-tested.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "app/app_file.h"

namespace moor::app {

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
nlohmann::json ContainerBody(const AppFile& app, const ServiceSpec& s, int replica, const std::string& digest);

// Labels put on the networks and volumes the app creates.
std::map<std::string, std::string> AppObjectLabels(const AppFile& app);

// What a container of `s` is made of, as one sha256 hex: ServiceDigest(s),
// the image ID it runs, and the content of each template source (in order).
// Equal digests ⇔ nothing to recreate; replicas and profiles do not count.
std::string ContainerDigest(const ServiceSpec& s, const std::string& image_id,
                            const std::vector<std::string>& template_contents);

}  // namespace moor::app
