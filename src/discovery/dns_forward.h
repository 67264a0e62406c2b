// Relaying queries the catalog does not answer to upstream resolvers.
// UDP: one thread sends each query to the first upstream under a fresh
// random ID, waits up to the timeout, then tries the next; the reply gets
// the client's ID back and goes to the client from the listening socket.
// When every upstream failed (or there is none) the client gets SERVFAIL.
// TCP queries are relayed over TCP, synchronously, by the caller's thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace moor::discovery {

struct Upstream {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "IP:PORT" as given (for messages)
};
// "IP" or "IP:PORT" (port 53 by default); IPv6 as "[::1]:53" or bare "::1".
Result<Upstream> ParseUpstream(const std::string& s);
// "IP:PORT" (listen addresses; the port is required).
Result<Upstream> ParseListen(const std::string& s);
std::string SockaddrText(const sockaddr_storage& a);

// A SERVFAIL reply to the raw query (empty if it cannot be parsed).
std::string ServfailFor(const uint8_t* q, size_t n);

class UdpForwarder {
 public:
  UdpForwarder(std::vector<Upstream> upstreams, int timeout_ms, std::atomic<uint64_t>* failures);
  ~UdpForwarder();
  Result<void> Start();
  void Stop();
  // Relays `query` for the client at `client` that asked on socket `fd`.
  void Submit(std::string query, int fd, const sockaddr_storage& client, socklen_t client_len);

 private:
  struct Pending {
    std::string query;  // with the client's ID
    int fd;
    sockaddr_storage client;
    socklen_t client_len;
    size_t upstream;
    int64_t deadline_ms;
  };
  void Run();
  void SendOrFail(uint16_t id, Pending& p);  // to p.upstream onward; false → SERVFAIL sent
  void Fail(const Pending& p);
  void OnReply(int sock);

  std::vector<Upstream> upstreams_;
  int timeout_ms_;
  std::atomic<uint64_t>* failures_;
  std::vector<int> socks_;  // one per upstream
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::deque<Pending> incoming_;
  std::map<uint16_t, Pending> pending_;  // thread-owned
  uint32_t seed_;
};

// Relays one query over TCP to each upstream in turn; the reply (without
// the length prefix) or an error when all failed.
Result<std::string> ForwardTcp(const std::vector<Upstream>& upstreams, const std::string& query, int timeout_ms);

}  // namespace moor::discovery
