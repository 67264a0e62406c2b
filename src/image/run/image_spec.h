// An image config plus `moor run` options → the OCI runtime spec of the
// container, with Docker's semantics for command, environment, user and
// working directory. Pure apart from reading the rootfs's /etc/passwd and
// /etc/group (confined to the rootfs) when the user is given by name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/manifest.h"
#include "oci/spec.h"

namespace moor::image {

struct BindMount {
  std::string source;       // host path, absolute
  std::string destination;  // container path, absolute
  bool read_only = false;
};

struct RunRequest {
  std::string id;
  // The container's root as a host path: user names are looked up in its
  // /etc/passwd and /etc/group, and it becomes root.path ("rootfs" — relative
  // to the bundle — when empty).
  std::string rootfs;
  // Arguments after the image name: replace the image's Cmd when not empty.
  std::vector<std::string> args;
  // --entrypoint: replaces the image's Entrypoint and drops its Cmd (unless
  // args are given). An empty vector clears the entrypoint.
  std::optional<std::vector<std::string>> entrypoint;
  std::vector<std::string> env;  // "K=V", replacing the image's K
  std::string user;              // empty: the image's User
  std::string workdir;           // empty: the image's WorkingDir, else "/"
  bool tty = false;
  std::string hostname;  // empty: the first 12 characters of id
  // Share the host's network and UTS namespaces; /etc/resolv.conf and
  // /etc/hosts are bind-mounted read-only from the host.
  bool host_network = false;
  bool read_only_rootfs = false;
  std::vector<BindMount> binds;
};

inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Starts from the runtime's default spec (runtime::DefaultSpecJson(false)).
Result<oci::Spec> SpecForImage(const ImageConfig& cfg, const RunRequest& req);

// Docker's rule for the process arguments: entrypoint + cmd, see RunRequest.
// Error when empty: "no command specified: …".
Result<std::vector<std::string>> ProcessArgs(const ContainerConfig& cfg, const RunRequest& req);
// Image Env, then req.env replacing by key, then PATH when missing, TERM=xterm
// with a tty, HOSTNAME when a hostname is set.
Result<std::vector<std::string>> ProcessEnv(const ContainerConfig& cfg, const RunRequest& req,
                                            const std::string& hostname);

}  // namespace moor::image
