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
  auto code = WaitForwardingSignals(created->state.pid);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (!keep) {
    if (auto r = DeleteContainer(opts.root, opts.id, true); !r) log::Warn(r.error().message());
  }
  return code;
}

}  // namespace moor::runtime
