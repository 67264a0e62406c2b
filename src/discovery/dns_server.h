// moor's DNS server: answers names under the discovery domain from the
// catalog (dns_answer.h), forwards everything else to upstream resolvers
// (dns_forward.h). Each listen address gets a UDP socket served by its own
// thread (recvmmsg/sendmmsg batches) and a TCP socket (length-framed, several
// queries per connection, a thread per connection). Replies are cached per
// question as encoded records and rebuilt only when Catalog::Index() moves
// (dns_cache.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "discovery/catalog.h"

namespace moor::discovery {

struct DnsOptions {
  std::vector<std::string> listen;  // "IP:PORT", UDP and TCP each
  std::string domain = "moor";
  std::vector<std::string> upstreams;  // "IP[:PORT]"
  uint32_t service_ttl = 0, container_ttl = 0;
  int forward_timeout_ms = 2000;
};

class DnsServer {
 public:
  DnsServer(const Catalog& catalog, DnsOptions opts);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Binds every listen address (IP_FREEBIND: a bridge address may appear
  // later) and starts serving. An address in use is a one-line error naming it.
  Result<void> Start();
  void Stop();

  struct Stats {
    uint64_t queries, answered, nxdomain, forwarded, forward_failures, truncated;
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::discovery
