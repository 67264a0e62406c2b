// pull: resolve the reference (tag → manifest or index → the platform's
// manifest), fetch the config and the layers in parallel (resumable,
// verified), record the name, then unpack the layers into snapshots.
// Fetching is skipped for blobs the store has, so a second pull of the same
// image only re-reads the manifest.
#pragma once

#include <string>

#include "common/error.h"
#include "image/core/manifest.h"
#include "image/image_service.h"
#include "image/progress.h"

namespace moor::image {

struct PullOptions {
  std::optional<Platform> platform;  // default: HostPlatform()
  int parallel = 4;                  // layer downloads at once
  bool unpack = true;
};

Result<ImageRecord> Pull(ImageService& svc, const std::string& ref, const PullOptions& opts, ProgressSink& progress);

struct PushOptions {
  int parallel = 4;
};
// push NAME: blobs the registry lacks are uploaded (cross-repository mount
// first when the blob came from another repository of the same registry),
// then the config, then the manifest under the tag.
Result<Digest> Push(ImageService& svc, const std::string& ref, const PushOptions& opts, ProgressSink& progress);

}  // namespace moor::image
