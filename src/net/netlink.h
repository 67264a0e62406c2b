// Netlink operations moor's networking needs, behind a role interface so the
// engine's network setup is unit-tested with a recording fake. The real
// implementation (LibnlNetlink) uses libnl-route-3; nothing shells out to `ip`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::net {

class Netlink {
 public:
  virtual ~Netlink() = default;

  // Creates the bridge if absent, gives it addr/prefix (if not present) and
  // sets it up. Idempotent.
  virtual Result<void> EnsureBridge(const std::string& name, uint32_t addr, int prefix, int mtu) = 0;
  virtual Result<void> DeleteLink(const std::string& name) = 0;  // absent: ok
  virtual Result<bool> LinkExists(const std::string& name) = 0;
  // Names of links whose name starts with prefix (leak checks, cleanup).
  virtual Result<std::vector<std::string>> LinksWithPrefix(const std::string& prefix) = 0;

  // Creates a veth pair host_name <-> peer_tmp_name, attaches host_name to
  // bridge and sets it up, moves the peer into the network namespace open at
  // netns_fd, renames it to peer_name there ("eth0"), gives it addr/prefix,
  // sets it and lo up, and adds a default route via gateway (0: none).
  // On failure nothing is left behind (the pair is deleted).
  virtual Result<void> CreateVethInNetns(const std::string& host_name, const std::string& peer_tmp_name,
                                         const std::string& bridge, int netns_fd, const std::string& peer_name,
                                         uint32_t addr, int prefix, uint32_t gateway, int mtu) = 0;
};

// Real implementation. Thread-safe (one netlink socket per call).
std::unique_ptr<Netlink> MakeLibnlNetlink();

}  // namespace moor::net
