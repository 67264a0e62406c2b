// The child-side half of capabilities.h: syscalls only, no files, no libcap.
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "oci/capability_names.h"
#include "runtime/process/capabilities.h"

namespace moor::runtime::process {
namespace {

std::string Name(int cap) {
  const char* n = oci::CapabilityName(cap);
  return n ? n : "capability " + std::to_string(cap);
}

}  // namespace

Result<void> DropBoundingSet(uint64_t keep, int last_cap) {
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (keep & (uint64_t{1} << cap)) continue;
    int in_set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_set < 0) return FailErrno("read bounding set (" + Name(cap) + ")");
    if (in_set == 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      return FailErrno("drop " + Name(cap) +
                       " from the bounding set (needs CAP_SETPCAP: drop before changing user)");
  }
  return {};
}

Result<void> ApplyCapSets(const CapSets& sets) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    int shift = 32 * i;
    data[i].effective = static_cast<uint32_t>(sets.effective >> shift);
    data[i].permitted = static_cast<uint32_t>(sets.permitted >> shift);
    data[i].inheritable = static_cast<uint32_t>(sets.inheritable >> shift);
  }
  if (syscall(SYS_capset, &header, data) != 0)
    return FailErrno(
        "capset (a capability asked for is not in the runtime's permitted or "
        "bounding set?)");

  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    // Kernels before 4.3 have no ambient set: fine unless one was asked for.
    if (errno != EINVAL || sets.ambient != 0) return FailErrno("clear ambient capabilities");
    return {};
  }
  uint64_t raise = sets.ambient & sets.permitted & sets.inheritable;
  for (int cap = 0; cap < 64; ++cap) {
    if (!(raise & (uint64_t{1} << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      return FailErrno("raise ambient " + Name(cap));
  }
  return {};
}

}  // namespace moor::runtime::process
