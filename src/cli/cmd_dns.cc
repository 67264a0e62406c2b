// moor dns … (placeholder until implemented).
#include "cli/context.h"

namespace moor::cli {

Result<int> CmdDnsQuery(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor dns: not implemented yet");
}

}  // namespace moor::cli
