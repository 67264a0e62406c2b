// BindHostPort: the host side of a published port, bound by the daemon so the
// port is reachable before `moor run` returns.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "proxy/port_proxy.h"

namespace moor::net {

namespace {
constexpr int kBacklog = 4096;

Error AddrInUse(const std::string& what) {
  return Error(EADDRINUSE, what + " is already in use (EADDRINUSE): choose another host port");
}
}  // namespace

Result<UniqueFd> BindHostPort(const std::string& host_ip, int port, bool udp, int* bound_port) {
  const std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
  const std::string what = "port " + std::to_string(port) + (udp ? "/udp" : "/tcp") + " on " + ip;
  if (port < 0 || port > 65535) {
    return FailInvalid("host port " + std::to_string(port) + " is out of range (0-65535)");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return FailInvalid("host IP \"" + ip + "\" is not an IPv4 address (only IPv4 host IPs are supported)");
  }
  UniqueFd fd(socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket for " + what);
  if (!udp) {
    // Rebinding right after a restart must not fail on old TIME_WAIT connections.
    int one = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      return FailErrno("SO_REUSEADDR for " + what);
    }
  }
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EADDRINUSE) return Fail(AddrInUse(what));
    if (err == EADDRNOTAVAIL) {
      return Fail(Error(err, "bind " + what + ": " + ip + " is not an address of this host (EADDRNOTAVAIL)"));
    }
    return Fail(Error::FromErrno(err, "bind " + what));
  }
  // Another SO_REUSEADDR socket bound but not yet listening lets bind pass;
  // listen is where that conflict shows.
  if (!udp && listen(fd.get(), kBacklog) != 0) {
    if (errno == EADDRINUSE) return Fail(AddrInUse(what));
    return FailErrno("listen on " + what);
  }
  if (bound_port) {
    sockaddr_in got{};
    socklen_t len = sizeof got;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len) != 0) {
      return FailErrno("getsockname for " + what);
    }
    *bound_port = ntohs(got.sin_port);
  }
  return fd;
}

}  // namespace moor::net
