// Outbound TCP for probes and the FastCGI client: connect and exchange bytes
// under a deadline, and give up at once when a stop is requested (so
// CheckRunner::Remove() never waits out a hung peer). Errors read like Go's
// net package, as operators know them from Consul:
//   dial tcp 10.89.0.5:9000: connection refused
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fd.h"

namespace moor::discovery {

using Deadline = std::chrono::steady_clock::time_point;

Deadline DeadlineAfter(int64_t timeout_ns);

// "5s", "1.5s", "250ms", "10us": a timeout as a person would write it.
std::string FormatDurationNs(int64_t ns);

// Connects to "IP:PORT", "[IPv6]:PORT" or "HOST:PORT". ETIMEDOUT when the
// deadline passes ("…: timed out after 5s", with timeout_ns for the text),
// ECANCELED when `stop` is requested.
Result<UniqueFd> DialTcp(const std::string& host_port, Deadline deadline, int64_t timeout_ns,
                         std::stop_token stop = {});

// One socket exchange under a deadline; on stop the socket is shut down so a
// blocked wait ends at once. `what` prefixes errors ("read 10.89.0.5:9000").
class SocketIo {
 public:
  SocketIo(int fd, Deadline deadline, int64_t timeout_ns, std::stop_token stop)
      : fd_(fd), deadline_(deadline), timeout_ns_(timeout_ns), stop_(std::move(stop)) {}

  Result<void> WriteAll(std::string_view data, std::string_view what);
  // Reads what is available (at least one byte); 0 at end of stream.
  Result<size_t> ReadSome(char* buf, size_t len, std::string_view what);

 private:
  // Waits for `events` on the socket; ETIMEDOUT / ECANCELED otherwise.
  Result<void> Wait(short events, std::string_view what);

  int fd_;
  Deadline deadline_;
  int64_t timeout_ns_;
  std::stop_token stop_;
};

}  // namespace moor::discovery
