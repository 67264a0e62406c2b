// Running a container from image layers in the foreground, through the
// runtime library in this process.
//
// REQUIREMENT (CVE-2019-5736): the runtime enters the container from this
// process, so the binary that calls these functions must run sealed — call
// runtime::EnsureSealedSelf(argv, envp, runtime::kSelfCopyDir) at the top of
// main() (the moor CLI does). Otherwise a process in the container could open
// /proc/<pid>/exe of this process for writing and replace the host binary.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::image {

// How the container's stdio is wired. Without a console socket the container
// inherits this process's fds 0, 1 and 2 (redirect them around the call to
// capture output). With process.terminal the runtime needs console_socket
// (a unix socket that receives the pty master, as with runc --console-socket).
struct RunIo {
  std::string console_socket;
  int preserve_fds = 0;  // fds 3 … 3+N-1 are passed on as well
};

// Writes bundle_dir/config.json from spec and runs the container `id` in the
// foreground (create + start + wait + delete, state under state_root). The
// rootfs named by spec.root.path must already be in place (mounted by the
// caller). Returns the container's exit code (128+N when killed by signal N).
Result<int> RunPrepared(const std::string& state_root, const std::string& id, const std::string& bundle_dir,
                        const oci::Spec& spec, const RunIo& io);

// Builds the spec once the rootfs is mounted (user names are resolved in it).
using SpecMaker = std::function<Result<oci::Spec>(const std::string& rootfs)>;

// Creates work_dir/{rw,bundle/rootfs}, mounts the overlay of `lowers` (lowest
// first; the upper in work_dir/rw) at bundle/rootfs, builds the spec (its
// root.path is replaced by the mounted rootfs), runs it, and ALWAYS unmounts
// and removes work_dir afterwards, also on error. The container's writes are
// discarded with it. REQUIRES: work_dir does not exist yet or is empty.
Result<int> RunImage(const std::vector<std::string>& lowers, const std::string& work_dir,
                     const SpecMaker& make_spec, const std::string& state_root, const std::string& id,
                     const RunIo& io);
// Same with a spec made beforehand (numeric user, or resolved already).
Result<int> RunImage(const std::vector<std::string>& lowers, const std::string& work_dir,
                     const oci::Spec& spec, const std::string& state_root, const std::string& id,
                     const RunIo& io);

}  // namespace moor::image
