// IPv4 subnets for moor's networks: parsing, the gateway and the range of
// addresses IPAM may hand out. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::net {

struct Subnet {
  uint32_t base = 0;  // network address, host byte order
  int prefix = 0;     // 8 … 30
  uint32_t Mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t Gateway() const { return base + 1; }          // first host address
  uint32_t FirstHost() const { return base + 2; }        // after the gateway
  uint32_t LastHost() const { return (base | ~Mask()) - 1; }  // before broadcast
  bool Contains(uint32_t a) const { return (a & Mask()) == base; }
  std::string ToString() const;  // "172.30.0.0/16"
};

// "172.30.0.0/16" → Subnet. Host bits set, prefix outside 8…30, or not
// IPv4 → error naming the value and the expected form.
Result<Subnet> ParseSubnet(std::string_view s);
Result<uint32_t> ParseIpv4(std::string_view s);  // "10.0.0.1" → host order
std::string FormatIpv4(uint32_t a);
bool Overlaps(const Subnet& a, const Subnet& b);

}  // namespace moor::net
