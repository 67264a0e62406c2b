// OCI mount "options" → mount(2)/mount_setattr(2) flags. Pure.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace moor::runtime {

struct MountOptions {
  unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, … for mount(2)
  unsigned long propagation = 0;  // MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (+MS_REC)
  bool bind = false;              // "bind" or "rbind"
  bool recursive = false;         // "rbind"
  bool readonly() const;
  std::string data;               // fs-specific, comma-joined ("mode=755,size=65536k")
  std::vector<std::string> ignored;  // accepted but without effect here (warned)
};

// Parses an options list. Unknown "key" or "key=value" options are passed to
// the filesystem as data; options this runtime cannot honour ("idmap") are
// errors naming the option.
Result<MountOptions> ParseMountOptions(const std::vector<std::string>& options);

// MOUNT_ATTR_* bits for mount_setattr(2) from MS_* flags.
unsigned long long MountAttrFromFlags(unsigned long flags);

// Propagation flag from a rootfsPropagation string ("rslave" …); 0 for "".
unsigned long PropagationFromString(const std::string& s);

}  // namespace moor::runtime
