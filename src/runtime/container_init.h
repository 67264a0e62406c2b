// The container child: runs between clone(2) and execve(2).
//
// moor-runtime is single-threaded, so the child may allocate; it reports any
// failure to the parent over the sync channel (one line, with context) and
// exits. It never loads libraries or reads host files after pivot_root.
#pragma once

#include <string>
#include <vector>

#include "common/fd.h"
#include "oci/spec.h"
#include "runtime/finalize.h"
#include "runtime/namespaces.h"
#include "runtime/rootfs_plan.h"
#include "runtime/sync_channel.h"

namespace moor::runtime {

struct ChildContext {
  const oci::Spec* spec = nullptr;
  const NamespacePlan* ns = nullptr;
  const RootfsPlan* rootfs = nullptr;
  const FinalizePlan* finalize = nullptr;
  const SyncChannel* sync = nullptr;
  bool parent_runs_hooks = false;  // prestart/createRuntime present
  int exec_fifo = -1;              // O_RDWR fd of exec.fifo; -1: wait for kStart on sync
  int console_socket = -1;         // connected socket for the pty master, or -1
  int preserve_fds = 0;
  int host_proc = -1;              // unused after pivot; closed before exec
};

// Never returns: execs the container process or _exits after reporting.
[[noreturn]] void RunContainerChild(const ChildContext& ctx);

// Finds `file` in the PATH of `env` (or /usr/local/sbin:… when unset), inside
// the current root. Absolute or relative-with-slash names are checked as-is.
Result<std::string> FindExecutable(const std::string& file, const std::vector<std::string>& env);

}  // namespace moor::runtime
