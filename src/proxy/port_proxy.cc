// PortProxy: owns the proxy thread and the forwarders it serves. Design: one
// thread, one epoll loop (port_proxy_reactor.h) for every published port of
// a container; TCP in port_proxy_tcp.cc, UDP in port_proxy_udp.cc.
#include "proxy/port_proxy.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <system_error>
#include <thread>

#include "proxy/port_proxy_forwarders.h"
#include "proxy/port_proxy_reactor.h"

namespace moor::net {
namespace {

class PortProxyImpl final : public PortProxy {
 public:
  explicit PortProxyImpl(std::unique_ptr<proxy::Reactor> reactor) : reactor_(std::move(reactor)) {}

  ~PortProxyImpl() override {
    if (thread_.joinable()) {
      reactor_->RequestStop();
      thread_.join();
    }
    // reactor_ (and with it every forwarder, socket and pipe) goes next.
  }

  size_t ActiveConnections() const override { return active_.load(); }

  Result<void> AddForward(size_t index, PortForward fwd, const ProxyOptions& opts) {
    std::string what = "port forward " + std::to_string(index);
    if (!fwd.listen_fd) return FailInvalid(what + ": no listening socket");
    if (fwd.backend.sin_family != AF_INET || fwd.backend.sin_port == 0) {
      return FailInvalid(what + ": backend must be an IPv4 address with a port");
    }
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fwd.listen_fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
      return FailErrno(what + ": listening socket");
    }
    if (type != (fwd.udp ? SOCK_DGRAM : SOCK_STREAM)) {
      return FailInvalid(what + ": listening socket is not a " + (fwd.udp ? "UDP" : "TCP") + " socket");
    }
    // The loop must never block on it; the fd may have come from another process.
    int flags = fcntl(fwd.listen_fd.get(), F_GETFL);
    if (flags < 0 || fcntl(fwd.listen_fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return FailErrno(what + ": set O_NONBLOCK");
    }
    UniqueFd listen = std::move(fwd.listen_fd);
    auto fwder = fwd.udp ? proxy::NewUdpForwarder(*reactor_, std::move(listen), fwd.backend, opts, active_)
                         : proxy::NewTcpForwarder(*reactor_, std::move(listen), fwd.backend, opts, active_);
    proxy::Forwarder* raw = fwder.get();
    uint32_t owner = reactor_->AddForwarder(std::move(fwder));
    TRY_CTX(raw->Attach(owner), what);
    return {};
  }

  Result<void> StartThread() {
    try {
      thread_ = std::thread([r = reactor_.get()] { r->Run(); });
    } catch (const std::system_error& e) {
      return Fail(Error(e.code().value(), std::string("start port proxy thread: ") + e.what()));
    }
    return {};
  }

 private:
  std::unique_ptr<proxy::Reactor> reactor_;
  std::atomic<size_t> active_{0};
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<PortProxy>> PortProxy::Start(std::vector<PortForward> forwards, ProxyOptions opts) {
  if (opts.connect_timeout_ms < 0) return FailInvalid("port proxy: connect_timeout_ms must not be negative");
  if (opts.udp_idle_timeout_ms <= 0) return FailInvalid("port proxy: udp_idle_timeout_ms must be positive");
  auto reactor = TRY_CTX(proxy::Reactor::Create(), "port proxy");
  auto impl = std::make_unique<PortProxyImpl>(std::move(reactor));
  for (size_t i = 0; i < forwards.size(); ++i) {
    TRY_CTX(impl->AddForward(i, std::move(forwards[i]), opts), "port proxy");
  }
  TRY(impl->StartThread());
  return std::unique_ptr<PortProxy>(std::move(impl));
}

}  // namespace moor::net
