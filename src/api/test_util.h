// Helpers for the api module's tests: a private temp dir and raw socket I/O.
#pragma once

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "common/fd.h"
#include "common/file.h"

namespace moor::api::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-api-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (p) path_ = p;
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline UniqueFd ConnectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return UniqueFd();
  return fd;
}

inline bool SendRaw(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until the peer closes (or 10 s pass without data): the whole reply.
inline std::string ReadUntilClose(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return out + "<timeout>";
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Reads until `done(received)` holds (or 10 s pass).
inline std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done) {
  std::string out;
  char buf[4096];
  while (!done(out)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return out + "<timeout>";
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out + "<eof>";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends a raw request on a fresh connection and returns everything the server
// sent before closing.
inline std::string RawExchange(const std::string& socket_path, std::string_view request) {
  UniqueFd fd = ConnectUnix(socket_path);
  if (!fd) return "<connect failed>";
  if (!SendRaw(fd.get(), request)) return "<send failed>";
  return ReadUntilClose(fd.get());
}

// Polls cond every few ms for up to timeout; true once it holds.
inline bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout =
                                                           std::chrono::milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace moor::api::testing
