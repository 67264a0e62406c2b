// Test-only: readable gtest output for CgroupWrite values.
#pragma once

#include <ostream>

#include "runtime/cgroups/writes.h"

namespace moor::runtime::cgroups {

inline void PrintTo(const CgroupWrite& w, std::ostream* os) {
  *os << "{" << w.controller << " " << w.file << "=\"" << w.value << "\"" << (w.retried_later ? " retried" : "")
      << "}";
}

}  // namespace moor::runtime::cgroups
