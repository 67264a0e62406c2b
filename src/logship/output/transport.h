// Internal to the output module: the wire side of one output. The worker
// (output.cc) reads, filters and acks; a Transport connects, encodes, sends
// and says how far the receiver has confirmed.
//
// Confirmation uses tickets: Send() returns a ticket (a number that grows
// with every send since the last Connect), Confirmed() the highest ticket
// whose bytes count as delivered under the output's rule (output.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/error.h"
#include "common/fd.h"
#include "logship/output/output.h"

namespace moor::logship::internal {

// Wakes every poll of a worker when Stop() is called (an eventfd).
class StopSignal {
 public:
  StopSignal();
  void Raise();
  bool raised() const { return raised_.load(std::memory_order_acquire); }
  int fd() const { return fd_.get(); }
  // Sleeps up to ns; false when woken by Raise().
  bool Sleep(int64_t ns) const;

 private:
  UniqueFd fd_;
  std::atomic<bool> raised_{false};
};

struct SendOutcome {
  uint64_t ticket = 0;
  uint64_t bytes = 0;     // on the wire
  uint64_t rejected = 0;  // records the receiver refused for good (loki 4xx, oversized gelf)
  std::string rejection;  // why, for last_error (empty when none)
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Opens the connection / file. Errors are one line without the
  // "TYPE ADDRESS: " prefix, which the worker adds.
  virtual Result<void> Connect() = 0;
  virtual void Close() = 0;
  // recs is not empty; every record is meant for this output.
  virtual Result<SendOutcome> Send(std::span<const SpooledRecord> recs) = 0;
  // Highest delivered ticket; an error means the connection broke.
  virtual Result<uint64_t> Confirmed() = 0;
  // Whether Confirmed() can move later without a new Send (tcp waiting for
  // the peer's ACK or ack_delay), so the worker polls it soon.
  virtual bool Waiting() const { return false; }
  // Makes what was sent durable before the cursor is committed (file).
  virtual Result<void> Flush() { return {}; }
  // Whether "connected" needs Connect() again now and then while idle (Loki:
  // each push is a request, so nothing else would notice the receiver gone).
  virtual bool ProbeWhenIdle() const { return false; }
};

std::unique_ptr<Transport> NewTcpTransport(const OutputConfig& cfg, const StopSignal& stop);
std::unique_ptr<Transport> NewUdpTransport(const OutputConfig& cfg, const StopSignal& stop);
std::unique_ptr<Transport> NewLokiTransport(const OutputConfig& cfg, const StopSignal& stop);
std::unique_ptr<Transport> NewFileTransport(const OutputConfig& cfg);

// Appends one record framed for a stream transport: json_lines (logstash,
// file), GELF + NUL (gelf-tcp), RFC 6587 octet counting (syslog-tcp).
void EncodeStreamRecord(const OutputConfig& cfg, const SpooledRecord& r, std::string* out);

// "HOST:PORT" or "[V6]:PORT" → host, port.
Result<std::pair<std::string, std::string>> SplitHostPort(std::string_view address);

// Lower-cased strerror ("connection refused"), as one line reads.
std::string ErrnoText(int err);

int64_t MonotonicNs();

}  // namespace moor::logship::internal
