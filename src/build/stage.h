// Internal: the state of one build stage and the step implementations.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "build/build_context.h"
#include "build/dockerfile_parser.h"
#include "build/shell_words.h"
#include "common/error.h"
#include "image/core/manifest.h"
#include "image/image_service.h"

namespace moor::build {

struct StageState {
  std::string name;  // "AS name" (lower case), may be empty
  size_t index = 0;
  image::ImageConfig config;
  std::vector<image::Descriptor> layers;  // manifest layers so far
  std::vector<std::string> lowers;        // snapshot dirs, lowest first
  image::Digest key;                      // cache chain key after the last step
  VarMap args;                            // ARGs in scope with their values
  bool cmd_set = false;                   // CMD given in this stage (ENTRYPOINT keeps it)
};

// What a step produced (filled by the layer-making steps).
struct LayerResult {
  image::Descriptor layer;
  image::Digest diff_id;
  std::string snapshot;  // the adopted snapshot dir
};

// The variables an instruction is expanded with: ARGs, then ENV over them.
VarMap ExpansionVars(const StageState& st);

// Config-only instructions (ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, USER,
// STOPSIGNAL, HEALTHCHECK, VOLUME, SHELL, ONBUILD, MAINTAINER). Returns the
// history text ("ENV A=1"). WORKDIR's config part is here too.
Result<std::string> ApplyConfigInstruction(StageState& st, const Instruction& ins, char escape);

// "/a/b" from a WORKDIR argument relative to the current one.
std::string ResolveWorkdir(const std::string& current, const std::string& arg);

// Go duration ("1m30s", "500ms", "2h"), as HEALTHCHECK flags take them.
Result<int64_t> ParseGoDuration(std::string_view s);

// Writes the upper dir `upper` as a gzip layer into the store and adopts it as
// the snapshot on top of `st` (the dir is moved away on success).
Result<LayerResult> CommitLayer(image::ImageService& svc, const StageState& st, const std::string& upper,
                                const std::vector<std::string>& exclude);

// A mounted overlay of a stage's layers with a fresh upper dir, in a scratch
// dir on the snapshots' filesystem; unmounted and removed on destruction.
class StepRootfs {
 public:
  static Result<StepRootfs> Mount(image::ImageService& svc, const std::vector<std::string>& lowers);
  StepRootfs(StepRootfs&& o) noexcept;
  StepRootfs& operator=(StepRootfs&&) = delete;
  ~StepRootfs();

  const std::string& work() const { return work_; }
  std::string rootfs() const { return work_ + "/rootfs"; }
  std::string upper() const { return work_ + "/rw/upper"; }
  // Unmounts (the upper dir stays for CommitLayer).
  Result<void> Unmount();

 private:
  explicit StepRootfs(std::string work) : work_(std::move(work)) {}
  std::string work_;
  bool mounted_ = false;
};

// COPY/ADD into the mounted rootfs. `from_root` is another stage's or image's
// rootfs for --from (sources resolved inside it), else the build context.
struct CopyRequest {
  std::string keyword;  // "COPY" | "ADD"
  std::vector<std::string> sources;
  std::string dest;  // expanded, possibly relative to the workdir
  std::optional<std::string> chown;
  std::optional<uint32_t> chmod;
};
// Plans the copy (sources resolved and hashed): the input of the cache key.
Result<CopyPlan> PlanCopyRequest(const BuildContext& ctx, const CopyRequest& req);
Result<void> ExecuteCopy(const BuildContext& ctx, const CopyPlan& plan, const CopyRequest& req,
                         const StageState& st, const std::string& rootfs);
// "ADD from a URL is not supported …" when a source is a URL.
Result<void> RefuseUrls(const CopyRequest& req);

// Runs RUN's command in the mounted rootfs; returns its exit code.
struct RunStepRequest {
  std::vector<std::string> argv;
  std::vector<std::string> extra_env;  // build args visible to RUN ("K=V")
  bool host_network = true;
  std::string state_root;
};
// Also returns the paths (relative) the runtime created as mount points, to
// leave out of the layer.
Result<int> RunInRootfs(const StageState& st, StepRootfs& fs, const RunStepRequest& req,
                        std::vector<std::string>& created_mount_points);

// Creates dir (absolute, in the rootfs) when missing; true when it was created.
Result<bool> EnsureDirInRoot(const std::string& rootfs, const std::string& dir);

}  // namespace moor::build
