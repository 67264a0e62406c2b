// moor kv … (placeholder until implemented).
#include "cli/context.h"

namespace moor::cli {

Result<int> CmdKvGet(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor kv: not implemented yet");
}

Result<int> CmdKvPut(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor kv: not implemented yet");
}

Result<int> CmdKvRm(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor kv: not implemented yet");
}

Result<int> CmdKvLs(const Globals&, const std::vector<std::string>&) {
  return FailInvalid("moor kv: not implemented yet");
}

}  // namespace moor::cli
