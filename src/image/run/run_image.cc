#include "image/run/run_image.h"

#include <sys/stat.h>

#include "common/file.h"
#include "oci/spec_serialize.h"
#include "image/snapshot/snapshotter.h"
#include "runtime/ops.h"

namespace moor::image {

Result<int> RunPrepared(const std::string& state_root, const std::string& id, const std::string& bundle_dir,
                        const oci::Spec& spec, const RunIo& io) {
  std::string ctx = "run container " + id;
  TRY_CTX(oci::ValidateSpec(spec), ctx + ": config");
  std::string config = bundle_dir + "/config.json";
  TRY_CTX(WriteFileAtomic(config, oci::SpecToJson(spec)), ctx);
  runtime::CreateOptions opts;
  opts.root = state_root;
  opts.id = id;
  opts.bundle = bundle_dir;
  opts.console_socket = io.console_socket;
  opts.preserve_fds = io.preserve_fds;
  return TRY_CTX(runtime::RunContainer(opts, /*detach=*/false, /*keep=*/false), ctx);
}

Result<int> RunImage(const std::vector<std::string>& lowers, const std::string& work_dir,
                     const SpecMaker& make_spec, const std::string& state_root, const std::string& id,
                     const RunIo& io) {
  std::string ctx = "run container " + id;
  std::string bundle = work_dir + "/bundle", rootfs = bundle + "/rootfs", rw = work_dir + "/rw";
  // Made 0700 so nothing but root walks into the container's files.
  TRY_CTX(MkdirAll(work_dir, 0700), ctx);
  auto run = [&]() -> Result<int> {
    TRY(MkdirAll(rootfs, 0755));
    TRY(MkdirAll(rw, 0700));
    TRY(MountOverlay(lowers, rw, rootfs));
    oci::Spec spec = TRY(make_spec(rootfs));
    spec.root.path = "rootfs";
    return RunPrepared(state_root, id, bundle, spec, io);
  };
  auto result = run();
  // Cleanup runs whatever happened; its failure is reported only when the
  // run itself succeeded (the first error is the one that matters).
  auto unmounted = UnmountOverlay(rootfs);
  Result<void> removed;
  if (unmounted) removed = RemoveAll(work_dir);
  if (!result) return Fail(std::move(result.error()).Wrap(ctx));
  if (!unmounted) return Fail(std::move(unmounted.error()).Wrap(ctx + ": cleanup"));
  if (!removed) return Fail(std::move(removed.error()).Wrap(ctx + ": cleanup"));
  return result;
}

Result<int> RunImage(const std::vector<std::string>& lowers, const std::string& work_dir,
                     const oci::Spec& spec, const std::string& state_root, const std::string& id,
                     const RunIo& io) {
  return RunImage(
      lowers, work_dir, [&](const std::string&) -> Result<oci::Spec> { return spec; }, state_root, id, io);
}

}  // namespace moor::image
