// Published ports: a userspace proxy from a host socket to a container
// address. Runs inside each container's monitor (so ports keep working while
// the daemon is away) on its own thread.
//
// Contract that fixes the seed's "port unreachable right after start" and
// moby#16976: the listening socket exists before `moor run` returns (the
// daemon binds it and hands the fd over), so a client's connect succeeds at
// once; a connection accepted before the container listens is held — the
// proxy retries connecting to the backend (every 10 ms, up to
// connect_timeout_ms) — instead of being reset. Only when the backend never
// listens is the client's connection closed.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace moor::net {

struct PortForward {
  UniqueFd listen_fd;  // bound (and for TCP listening) socket, non-blocking
  bool udp = false;
  sockaddr_in backend{};  // container address and port
};

struct ProxyOptions {
  int connect_timeout_ms = 60000;
  int udp_idle_timeout_ms = 30000;  // UDP flows without traffic are forgotten
};

class PortProxy {
 public:
  // Starts the proxy thread. Data is copied with splice() through a pipe per
  // direction; half-closes are propagated (shutdown SHUT_WR); an RST or error
  // on one side resets the other. Each TCP connection uses 6 fds (2 sockets,
  // 2 pipes): the caller should raise RLIMIT_NOFILE. SIGPIPE is blocked on
  // the proxy thread only.
  static Result<std::unique_ptr<PortProxy>> Start(std::vector<PortForward> forwards, ProxyOptions opts = {});
  virtual ~PortProxy() = default;  // stops the thread, closes every socket
  // Connections currently open (tests, metrics): TCP connections accepted
  // and not yet closed (including ones still waiting for the backend) plus
  // live UDP flows (client addresses seen within udp_idle_timeout_ms).
  virtual size_t ActiveConnections() const = 0;
};

// Binds host_ip:port (TCP: listen, backlog 4096, SO_REUSEADDR; UDP: bind).
// Error "port 8080/tcp on 0.0.0.0 is already in use (EADDRINUSE)…" when taken.
// port 0 picks a free port; the chosen one is returned in *bound_port.
Result<UniqueFd> BindHostPort(const std::string& host_ip, int port, bool udp, int* bound_port = nullptr);

}  // namespace moor::net
