// moor service … (placeholder until implemented).
#include "cli/context.h"

namespace moor::cli {

Result<int> CmdServiceLs(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor service: not implemented yet");
}

Result<int> CmdServiceInspect(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor service: not implemented yet");
}

Result<int> CmdServiceRegister(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor service: not implemented yet");
}

Result<int> CmdServiceDeregister(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor service: not implemented yet");
}

}  // namespace moor::cli
