// Containers of a service with `code:` (docs/deploy.md): how a replica's
// create body is pinned to a release. Shared by `moor up` (the CLI) and the
// daemon's rolling switch, so both make the same container and a later
// `moor up` keeps what a deploy started.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace moor::app {

inline constexpr const char* kLabelRelease = "moor.release";                         // the release it runs
inline constexpr const char* kLabelReleaseMeta = "moor.service.meta.moor-release";   // the same, in the catalog
inline constexpr const char* kReleasesMount = "/srv/releases";                       // every release, read-only

// moor.app.digest of a container pinned to `release`: the service's digest
// with the release folded in (sha256 hex).
std::string ReleaseDigest(const std::string& base_digest, int64_t release);

struct ReleasePin {
  std::string app, service;
  int replica = 0;
  int64_t release = 0;
  std::string releases_dir;  // ROOT/deploy/releases/APP/SVC on the node
  std::string code_path;     // where a rolling service's release is mounted ("" = none: reload)
  std::string base_digest;   // the service's moor.app.digest before the release is folded in
};

// Makes `body` (a replica's create body built for replica 0, see
// ContainerBody) the body of replica p.replica running p.release: its
// network aliases and moor.app.replica name the replica; labels moor.release
// and moor.service.meta.moor-release; and for a rolling service (code_path
// set) moor.app.digest = ReleaseDigest, env MOOR_RELEASE and a read-only bind
// of releases_dir/N at code_path (a reload service keeps base_digest).
void PinRelease(nlohmann::json* body, const ReleasePin& p);

}  // namespace moor::app
