// `moor build`: a Dockerfile + a context directory → an image in the store.
//
// Stages run in order (up to --target): FROM an image (pulled when missing),
// FROM scratch or FROM an earlier stage. Config-only instructions (ENV,
// LABEL, CMD, …) add a history entry with empty_layer; RUN, COPY, ADD (and a
// WORKDIR that has to create its directory) add a gzip layer made from the
// overlay upper dir of the step, adopted as a snapshot so the next step
// mounts it as a lower. Every step has a cache key chained from the previous
// one (see build_cache.h); a hit reuses the layer without running anything.
// The result is a Docker schema2 manifest (OCI when a base layer is zstd)
// named with every tag; the image ID (config digest) is returned.
//
// Steps are printed as Docker prints them ("Step 3/7 : RUN …", " ---> Using
// cache", " ---> 1a2b3c4d5e6f", "Successfully built …", "Successfully
// tagged …"). RUN's own output goes to this process's stdout/stderr.
// Needs root (overlay mounts, containers).
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"
#include "image/image_service.h"
#include "image/progress.h"

namespace moor::build {

struct BuildOptions {
  std::string context_dir;
  std::string dockerfile;  // empty: CONTEXT/Dockerfile
  std::vector<std::string> tags;
  std::map<std::string, std::string> build_args;  // --build-arg K=V
  std::string target;                             // empty: the last stage
  bool no_cache = false;
  bool host_network = true;  // RUN shares the host network (no network setup in moor yet)
  // Runtime state for RUN containers.
  std::string state_root = "/run/moor/build";
};

Result<image::Digest> Build(image::ImageService& svc, const BuildOptions& opts, image::ProgressSink& progress,
                            std::ostream& out);

}  // namespace moor::build
