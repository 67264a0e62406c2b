#include "logship/format/record.h"

namespace moor::logship {

std::string_view StreamName(Stream s) {
  return s == Stream::kStderr ? "stderr" : "stdout";
}

}  // namespace moor::logship
