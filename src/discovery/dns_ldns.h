// <ldns/ldns.h> for C++: ldns' common.h defines bool/true/false as macros
// unless <stdbool.h> came first (which, in C++, only marks them defined).
#pragma once

#include <stdbool.h>  // NOLINT: must precede ldns, see above
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include <memory>

namespace moor::discovery {

struct LdnsPktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, LdnsPktFree>;

}  // namespace moor::discovery
