#include <signal.h>

#include "common/log.h"
#include "runtime/forward_wait.h"
#include "runtime/ops.h"

namespace moor::runtime {

Result<int> RunContainer(const CreateOptions& in, bool detach, bool keep) {
  CreateOptions opts = in;
  opts.start_via_sync = true;
  sigset_t old = BlockForwardedSignals();
  auto created = CreateContainer(opts);
  if (!created) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return Fail(std::move(created.error()));
  }
  auto started = StartCreated(*created);
  if (!started || detach) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (!started) {
      (void)DeleteContainer(opts.root, opts.id, true);
      return Fail(std::move(started.error()));
    }
    return 0;
  }
  log::Timing("started");
  auto code = WaitForwardingSignals(created->state.pid);
  log::Timing("exited");
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (!keep) {
    if (auto r = RemoveExited(*created); !r) {
      log::Warn(r.error().message());
      if (auto r2 = DeleteContainer(opts.root, opts.id, true); !r2) log::Warn(r2.error().message());
    }
    log::Timing("deleted");
  }
  return code;
}

}  // namespace moor::runtime
