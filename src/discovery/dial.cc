#include "discovery/dial.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace moor::discovery {
namespace {

// A stop request is noticed within this long while waiting on a socket.
constexpr auto kStopPoll = std::chrono::milliseconds(50);

// Go-style error text: "connection refused", not "Connection refused".
std::string ErrnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

Error TimedOut(std::string_view what, int64_t timeout_ns) {
  return Error(ETIMEDOUT, std::string(what) + ": timed out after " + FormatDurationNs(timeout_ns));
}

Error Canceled(std::string_view what) { return Error(ECANCELED, std::string(what) + ": canceled"); }

// Waits for `events` on fd until the deadline, waking regularly to notice a
// stop request. 0 on readiness, else ETIMEDOUT / ECANCELED / errno of poll.
int WaitFd(int fd, short events, Deadline deadline, const std::stop_token& stop) {
  for (;;) {
    if (stop.stop_requested()) return ECANCELED;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return ETIMEDOUT;
    auto slice = std::min<std::chrono::steady_clock::duration>(deadline - now, kStopPoll);
    int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count());
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n > 0) return 0;
  }
}

bool SplitHostPort(const std::string& host_port, std::string* host, std::string* port) {
  if (!host_port.empty() && host_port[0] == '[') {
    size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':') return false;
    *host = host_port.substr(1, close - 1);
    *port = host_port.substr(close + 2);
  } else {
    size_t colon = host_port.rfind(':');
    if (colon == std::string::npos) return false;
    *host = host_port.substr(0, colon);
    *port = host_port.substr(colon + 1);
  }
  return !host->empty() && !port->empty();
}

}  // namespace

Deadline DeadlineAfter(int64_t timeout_ns) {
  return std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
}

std::string FormatDurationNs(int64_t ns) {
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "us"}, {1, "ns"}};
  for (const Unit& u : kUnits) {
    if (ns < u.ns && u.ns != 1) continue;
    if (ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
    // One decimal is enough for a message ("1.5s").
    int64_t tenths = ns * 10 / u.ns;
    if (tenths % 10 == 0) return std::to_string(tenths / 10) + u.name;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + u.name;
  }
  return std::to_string(ns) + "ns";
}

Result<UniqueFd> DialTcp(const std::string& host_port, Deadline deadline, int64_t timeout_ns,
                         std::stop_token stop) {
  std::string what = "dial tcp " + host_port;
  std::string host, port;
  if (!SplitHostPort(host_port, &host, &port)) {
    return FailInvalid(what + ": address must be HOST:PORT");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  int gai = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (gai != 0) return Fail(Error(EHOSTUNREACH, what + ": " + ::gai_strerror(gai)));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);

  int last_err = EHOSTUNREACH;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last_err = errno;
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      last_err = errno;
      continue;
    }
    int w = WaitFd(fd.get(), POLLOUT, deadline, stop);
    if (w == ETIMEDOUT) return Fail(TimedOut(what, timeout_ns));
    if (w == ECANCELED) return Fail(Canceled(what));
    if (w != 0) {
      last_err = w;
      continue;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr == 0) return fd;
    last_err = soerr;
  }
  return Fail(Error(last_err, what + ": " + ErrnoText(last_err)));
}

Result<void> SocketIo::Wait(short events, std::string_view what) {
  int w = WaitFd(fd_, events, deadline_, stop_);
  if (w == 0) return {};
  if (w == ETIMEDOUT) return Fail(TimedOut(what, timeout_ns_));
  if (w == ECANCELED) return Fail(Canceled(what));
  return Fail(Error(w, std::string(what) + ": " + ErrnoText(w)));
}

Result<void> SocketIo::WriteAll(std::string_view data, std::string_view what) {
  while (!data.empty()) {
    TRY(Wait(POLLOUT, what));
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      int err = errno;
      return Fail(Error(err, std::string(what) + ": " + ErrnoText(err)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<size_t> SocketIo::ReadSome(char* buf, size_t len, std::string_view what) {
  for (;;) {
    TRY(Wait(POLLIN, what));
    ssize_t n = ::recv(fd_, buf, len, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR || errno == EAGAIN) continue;
    int err = errno;
    return Fail(Error(err, std::string(what) + ": " + ErrnoText(err)));
  }
}

}  // namespace moor::discovery
