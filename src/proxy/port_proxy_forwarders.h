// Internal to the port proxy: the TCP and UDP forwarders and small helpers
// they share.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/fd.h"
#include "proxy/port_proxy.h"
#include "proxy/port_proxy_reactor.h"

namespace moor::net::proxy {

// `active` counts open TCP connections and live UDP flows (ActiveConnections()).
std::unique_ptr<Forwarder> NewTcpForwarder(Reactor& reactor, UniqueFd listen, const sockaddr_in& backend,
                                           const ProxyOptions& opts, std::atomic<size_t>& active);
std::unique_ptr<Forwarder> NewUdpForwarder(Reactor& reactor, UniqueFd listen, const sockaddr_in& backend,
                                           const ProxyOptions& opts, std::atomic<size_t>& active);

// "172.17.0.2:80"
std::string AddrString(const sockaddr_in& a);

}  // namespace moor::net::proxy
