// ListenUnix / ListenTcp: the listening sockets HttpServer serves.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/http_server.h"
#include "common/strings.h"

namespace moor::api {

namespace {

bool FillUnixAddr(const std::string& path, sockaddr_un* addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// What sits at path: nothing / a socket nobody accepts on (both fine to
// replace) or an error saying why it cannot be replaced.
Result<void> CheckReplaceable(const std::string& path, const sockaddr_un& addr) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return FailErrno("stat " + path);
  }
  if (!S_ISSOCK(st.st_mode))
    return FailInvalid(path + " exists and is not a socket; remove it or choose another path");
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) return FailErrno("socket");
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN)
    return Fail(Error(EADDRINUSE, path + " is in use by another process (is another daemon running?)"));
  if (errno == ECONNREFUSED) return {};  // stale: left behind by a process that is gone
  return FailErrno("probe " + path);
}

}  // namespace

Result<UniqueFd> ListenUnix(const std::string& path, unsigned mode) {
  sockaddr_un addr{};
  if (!FillUnixAddr(path, &addr))
    return FailInvalid("socket path \"" + path + "\" is empty or longer than " +
                       std::to_string(sizeof addr.sun_path - 1) + " bytes");
  TRY_CTX(CheckReplaceable(path, addr), "listen on " + path);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("create socket for " + path);
  // Bind under a temporary name, set the mode, then rename over the final
  // path: the socket never appears with umask-wide permissions, and a stale
  // socket is replaced atomically.
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  sockaddr_un tmp_addr{};
  bool via_tmp = FillUnixAddr(tmp, &tmp_addr);
  const std::string& bind_path = via_tmp ? tmp : path;
  if (via_tmp) {
    ::unlink(tmp.c_str());
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return FailErrno("remove stale socket " + path);
  }
  const sockaddr_un& baddr = via_tmp ? tmp_addr : addr;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&baddr), sizeof baddr) != 0)
    return FailErrno("bind " + path);
  if (::chmod(bind_path.c_str(), mode) != 0) {
    Error e = Error::FromErrno("chmod " + path);
    ::unlink(bind_path.c_str());
    return Fail(std::move(e));
  }
  if (via_tmp && ::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Error::FromErrno("rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return Fail(std::move(e));
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return FailErrno("listen on " + path);
  return fd;
}

Result<UniqueFd> ListenTcp(const std::string& address) {
  std::string host;
  std::string_view port_text;
  if (StartsWith(address, "[")) {
    size_t close = address.find(']');
    if (close == std::string::npos || address.size() <= close + 1 || address[close + 1] != ':')
      return FailInvalid("invalid listen address \"" + address + "\" (want [IPv6]:PORT)");
    host = address.substr(1, close - 1);
    port_text = std::string_view(address).substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos)
      return FailInvalid("invalid listen address \"" + address + "\" (want HOST:PORT or :PORT)");
    host = address.substr(0, colon);
    port_text = std::string_view(address).substr(colon + 1);
  }
  auto port = ParseUint(port_text);
  if (!port || *port > 65535) return FailInvalid("invalid port in listen address \"" + address + "\"");
  if (host == "localhost") host = "127.0.0.1";

  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET6;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (host.empty()) {
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_any;
    v6->sin6_port = htons(static_cast<uint16_t>(*port));
    len = sizeof *v6;
  } else if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = AF_INET;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(*port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(*port));
    len = sizeof *v6;
  } else {
    return FailInvalid("invalid host \"" + host + "\" in listen address \"" + address +
                       "\" (want an IP address)");
  }

  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd && host.empty() && errno == EAFNOSUPPORT) {
    // No IPv6 on this host: "all addresses" means all IPv4 addresses.
    family = AF_INET;
    ss = {};
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_port = htons(static_cast<uint16_t>(*port));
    len = sizeof *v4;
    fd = UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }
  if (!fd) return FailErrno("create socket for " + address);
  // The address may not exist yet (a bridge's gateway before the bridge is
  // up): bind anyway, traffic arrives once it does.
  int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6 && host.empty()) {
    int zero = 0;  // dual stack: IPv4 too
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) return FailErrno("bind " + address);
  if (::listen(fd.get(), SOMAXCONN) != 0) return FailErrno("listen on " + address);
  return fd;
}

}  // namespace moor::api
