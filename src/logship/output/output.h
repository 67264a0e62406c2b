// One configured output: its settings, and the worker that drains a spool
// reader into it — encode, send, confirm, ack — with reconnects and backoff.
// docs/logs.md lists the settings as the user writes them.
//
// When a batch counts as delivered (the reader's cursor moves past it):
//   loki   the push answered 2xx (a 4xx other than 429 drops the batch,
//          counted in errors: the receiver refuses it, resending cannot help)
//   tcp    (logstash, gelf-tcp, syslog-tcp) its last byte was acknowledged by
//          the receiver's TCP (SIOCOUTQ shows it left the send queue) and the
//          connection stayed up for ack_delay since it was written — a
//          receiver that dies loses at most what it had not processed in
//          ack_delay, and that is sent again (at-least-once)
//   udp    (gelf-udp, syslog-udp) sendto succeeded: UDP has no delivery
//   file   write() succeeded; fdatasync at each Commit
// A record whose source lists other outputs (moor.log.outputs) is skipped
// (acked without sending).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "logship/format/encode.h"
#include "logship/spool/spool.h"

namespace moor::logship {

enum class OutputType { kLogstash, kGelfUdp, kGelfTcp, kSyslogTcp, kSyslogUdp, kLoki, kFile };
// "logstash", "gelf-udp", "gelf-tcp", "syslog-tcp", "syslog-udp", "loki", "file"
std::string_view OutputTypeName(OutputType t);
Result<OutputType> ParseOutputType(std::string_view name);

struct OutputConfig {
  std::string name;       // [a-z0-9_-]{1,32}, unique
  OutputType type = OutputType::kLogstash;
  // tcp/udp: "HOST:PORT" (an IP literal or a name resolved at each connect);
  // loki: "http(s)://HOST:PORT" (path /loki/api/v1/push added when absent);
  // file: an absolute path (appended; reopened when rotated away).
  std::string address;
  SyslogOptions syslog;
  std::vector<LokiLabel> loki_labels;  // extra labels on every stream
  size_t gelf_chunk_size = 1420;
  size_t batch_records = 4096;     // per send
  size_t batch_bytes = 1 << 20;
  int64_t ack_delay_ns = 1'000'000'000;  // tcp: see above
  int64_t backoff_min_ns = 100'000'000, backoff_max_ns = 10'000'000'000;
  int64_t timeout_ns = 10'000'000'000;   // connect / one HTTP request
  int64_t idle_probe_ns = 10'000'000'000;  // loki: check the receiver this often while idle
};

// Live numbers of one output (metrics, `moor logs status`).
struct OutputCounters {
  std::atomic<uint64_t> records_sent{0}, bytes_sent{0};
  std::atomic<uint64_t> records_skipped{0};  // not for this output
  std::atomic<uint64_t> send_errors{0}, reconnects{0};
  std::atomic<uint64_t> rejected{0};         // loki 4xx: dropped by the receiver
  std::atomic<bool> connected{false};
  std::atomic<int64_t> last_error_ns{0};
};

class OutputWorker {
 public:
  OutputWorker(OutputConfig cfg, std::unique_ptr<SpoolReader> reader);
  ~OutputWorker();  // Stop()
  void Start();
  // Stops the thread, commits the cursor. Sends nothing more.
  void Stop();

  const OutputConfig& config() const { return cfg_; }
  const OutputCounters& counters() const { return counters_; }
  SpoolReader& reader() { return *reader_; }
  std::string last_error() const;  // "" when none since the last success

  struct Impl;

 private:
  OutputConfig cfg_;
  std::unique_ptr<SpoolReader> reader_;
  OutputCounters counters_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::logship
