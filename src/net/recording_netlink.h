// Test double for the Netlink role: records every call as one line of text
// and keeps a set of "existing" links so LinkExists/LinksWithPrefix answer
// consistently. A call can be made to fail (fail_on) to test error paths.
// Header-only; for unit tests of code that sets up networking.
#pragma once

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "net/netlink.h"
#include "net/subnet.h"

namespace moor::net {

class RecordingNetlink : public Netlink {
 public:
  // Call lines, in order, e.g.
  //   "EnsureBridge moor0 172.30.0.1/16 mtu=1500"
  //   "CreateVethInNetns vethab12 peer=tmpab12 bridge=moor0 netns=7 name=eth0 addr=172.30.0.2/16
  //    gw=172.30.0.1 mtu=1500" (one line)
  //   "DeleteLink vethab12", "LinkExists moor0", "LinksWithPrefix veth"
  std::vector<std::string> Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::set<std::string> Links() const {
    std::lock_guard lock(mu_);
    return links_;
  }
  void AddLink(const std::string& name) {
    std::lock_guard lock(mu_);
    links_.insert(name);
  }
  // Calls whose line starts with this prefix fail with EIO (and change
  // nothing); empty: none fail.
  void FailOn(std::string prefix) {
    std::lock_guard lock(mu_);
    fail_on_ = std::move(prefix);
  }
  // Number of recorded calls whose line starts with prefix.
  size_t Count(const std::string& prefix) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(),
                                             [&](const std::string& c) { return StartsWith(c, prefix); }));
  }

  Result<void> EnsureBridge(const std::string& name, uint32_t addr, int prefix, int mtu) override {
    std::lock_guard lock(mu_);
    TRY(Record("EnsureBridge " + name + " " + FormatIpv4(addr) + "/" + std::to_string(prefix) +
               " mtu=" + std::to_string(mtu)));
    links_.insert(name);
    return {};
  }
  Result<void> DeleteLink(const std::string& name) override {
    std::lock_guard lock(mu_);
    TRY(Record("DeleteLink " + name));
    links_.erase(name);
    return {};
  }
  Result<bool> LinkExists(const std::string& name) override {
    std::lock_guard lock(mu_);
    TRY(Record("LinkExists " + name));
    return links_.contains(name);
  }
  Result<std::vector<std::string>> LinksWithPrefix(const std::string& prefix) override {
    std::lock_guard lock(mu_);
    TRY(Record("LinksWithPrefix " + prefix));
    std::vector<std::string> out;
    for (const std::string& l : links_) {
      if (StartsWith(l, prefix)) out.push_back(l);
    }
    return out;
  }
  Result<void> CreateVethInNetns(const std::string& host_name, const std::string& peer_tmp_name,
                                 const std::string& bridge, int netns_fd, const std::string& peer_name,
                                 uint32_t addr, int prefix, uint32_t gateway, int mtu) override {
    std::lock_guard lock(mu_);
    TRY(Record("CreateVethInNetns " + host_name + " peer=" + peer_tmp_name + " bridge=" + bridge +
               " netns=" + std::to_string(netns_fd) + " name=" + peer_name + " addr=" + FormatIpv4(addr) +
               "/" + std::to_string(prefix) + " gw=" + FormatIpv4(gateway) + " mtu=" + std::to_string(mtu)));
    // As the real one: a missing bridge or a taken name fails, leaving nothing.
    if (!links_.contains(bridge)) return Fail(Error(ENODEV, "link " + bridge + " does not exist"));
    if (links_.contains(host_name)) return Fail(Error(EEXIST, "link " + host_name + " exists"));
    links_.insert(host_name);
    return {};
  }

 private:
  Result<void> Record(std::string line) {
    bool fail = !fail_on_.empty() && StartsWith(line, fail_on_);
    calls_.push_back(std::move(line));
    if (fail) return Fail(Error(EIO, "injected failure: " + calls_.back()));
    return {};
  }

  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  std::set<std::string> links_;
  std::string fail_on_;
};

}  // namespace moor::net
