// Image references as Docker reads them:
//   busybox                       -> docker.io/library/busybox:latest
//   localhost:5000/app:1.2        -> localhost:5000/app:1.2
//   reg.example/team/app@sha256:… -> by digest (tag kept too when both are given)
// A first path component is a registry host when it contains '.' or ':' or is
// "localhost"; otherwise the image is on docker.io ("library/" added for
// single-component names). Repository paths are lowercase [a-z0-9] joined by
// '.', '_', '__' or '-'+, tags match [\w][\w.-]{0,127}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::image {

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox", "team/app"
  std::string tag;     // empty only when a digest is given without a tag
  std::optional<Digest> digest;

  // Normalises as above; "latest" is added when neither tag nor digest is given.
  static Result<Reference> Parse(std::string_view s);

  std::string Repository() const;  // "docker.io/library/busybox"
  std::string String() const;      // "docker.io/library/busybox:latest[@sha256:…]"
  // As `docker images` shows it: "busybox:latest", "localhost:5000/app:1.2".
  std::string Familiar() const;
  // What goes after /v2/<path>/manifests/: the digest when given, else the tag.
  std::string ManifestRef() const;
  // Host to connect to: "registry-1.docker.io" for docker.io, else domain.
  std::string RegistryHost() const;
};

}  // namespace moor::image
