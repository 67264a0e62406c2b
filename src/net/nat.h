// Outbound NAT for bridge networks through nftables (libnftables, no shell):
// one table "ip moor" with a postrouting masquerade rule per subnet, and
// net.ipv4.ip_forward enabled. Inbound published ports do not use NAT: they
// are served by the userspace proxy (port_proxy.h), see docs/design/network.md.
#pragma once

#include <string>

#include "common/error.h"
#include "net/subnet.h"

namespace moor::net {

// Idempotent: adds "masquerade for saddr SUBNET oifname != BRIDGE".
Result<void> EnsureMasquerade(const Subnet& subnet, const std::string& bridge);
Result<void> RemoveMasquerade(const Subnet& subnet);
Result<void> EnableIpForward();

// Networks do not reach each other (Docker's isolation between bridge
// networks): in chain "forward" of table ip moor, traffic entering from
// `bridge` and leaving through another moor bridge (kBridgePattern) is
// dropped. Idempotent.
inline constexpr const char* kBridgePattern = "moor*";
Result<void> EnsureIsolation(const std::string& bridge);
Result<void> RemoveIsolation(const std::string& bridge);

// Runs nft commands (nft syntax, one per line) through libnftables and
// returns what they print (listings show rule handles). Errors carry nft's
// own message. For the functions above, diagnostics and tests.
Result<std::string> RunNft(const std::string& commands);

}  // namespace moor::net
