// Images in and out of tar archives:
// - load: `docker save` archives (manifest.json + <id>.json + layer tars,
//   repositories) and OCI image layouts (oci-layout + index.json + blobs/),
//   tarred or plain, compressed or not. Names come from RepoTags /
//   org.opencontainers.image.ref.name (io.containerd.image.name preferred).
// - save: writes an archive that both `docker load` and OCI tools read (OCI
//   layout with a docker-compatible manifest.json beside it, as Docker 25
//   does); several images in one archive.
// - import: a rootfs tarball (any compression) becomes a one-layer image,
//   like `docker import` (optional Dockerfile-style changes: CMD, ENV, …).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/image_service.h"
#include "image/progress.h"

namespace moor::image {

// Reads the archive from fd (a file or stdin). Returns the names loaded (or
// the IDs, for unnamed images: their content stays until the next gc, as
// nothing names it). Prints "Loaded image: NAME" / "Loaded image ID: …".
Result<std::vector<std::string>> LoadArchive(ImageService& svc, int fd, ProgressSink& progress);

// Writes the images named by refs to out_fd.
Result<void> SaveArchive(ImageService& svc, const std::vector<std::string>& refs, int out_fd);

struct ImportOptions {
  std::string name;                  // optional repository:tag
  // Dockerfile-style: "CMD [\"sh\"]", "ENV K=V", "WORKDIR /x", "ENTRYPOINT …", "USER …",
  // "EXPOSE …", "LABEL …", "VOLUME …", "STOPSIGNAL …" (see transfer_changes.h).
  std::vector<std::string> changes;
  std::string message;               // history comment
  std::optional<Platform> platform;  // default: host
};
// Reads a rootfs tar from fd; returns the image ID (config digest).
Result<Digest> ImportRootfs(ImageService& svc, int fd, const ImportOptions& opts);

}  // namespace moor::image
