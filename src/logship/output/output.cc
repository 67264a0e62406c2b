// OutputWorker: one thread per output that reads the spool from the
// output's cursor, skips records not meant for it, sends the rest through
// its Transport and moves the cursor once the transport confirms delivery
// (output.h lists the rule per type). Any failure rewinds the reader to the
// cursor and retries after a backoff: nothing unconfirmed is lost, some of
// it may arrive twice (at-least-once).
#include "logship/output/output.h"

#include <sys/random.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>

#include "logship/output/transport.h"

namespace moor::logship {
namespace {

using internal::MonotonicNs;

constexpr int64_t kCommitEveryNs = 1'000'000'000;
// Read waits: short while the transport may confirm by itself (tcp), so
// acks follow soon; longer when idle. Both bound how long Stop() waits.
constexpr int kReadWaitMs = 50;
constexpr int kReadWaitPendingMs = 10;

struct TypeName {
  OutputType type;
  std::string_view name;
};
constexpr TypeName kTypes[] = {
    {OutputType::kLogstash, "logstash"},
    {OutputType::kGelfUdp, "gelf-udp"},
    {OutputType::kGelfTcp, "gelf-tcp"},
    {OutputType::kSyslogTcp, "syslog-tcp"},
    {OutputType::kSyslogUdp, "syslog-udp"},
    {OutputType::kLoki, "loki"},
    {OutputType::kFile, "file"},
};

int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool ForOutput(const SourceMeta* s, const std::string& name) {
  return s == nullptr || s->outputs.empty() || std::ranges::find(s->outputs, name) != s->outputs.end();
}

// Labels of a record whose source the reader does not know (should not
// happen): shipped without labels rather than lost.
const SourceMeta kNoSource{};

}  // namespace

std::string_view OutputTypeName(OutputType t) {
  for (const TypeName& n : kTypes) {
    if (n.type == t) return n.name;
  }
  return "unknown";
}

Result<OutputType> ParseOutputType(std::string_view name) {
  for (const TypeName& n : kTypes) {
    if (n.name == name) return n.type;
  }
  return FailInvalid("unknown log output type \"" + std::string(name) +
                     "\"; use logstash, gelf-udp, gelf-tcp, syslog-tcp, syslog-udp, loki or file");
}

namespace internal {

void EncodeStreamRecord(const OutputConfig& cfg, const SpooledRecord& r, std::string* out) {
  switch (cfg.type) {
    case OutputType::kGelfTcp: {
      std::string gelf;
      EncodeGelf(r.record, *r.source, &gelf);
      GelfTcpFrame(gelf, out);
      return;
    }
    case OutputType::kSyslogTcp: {
      std::string msg;
      EncodeSyslog5424(r.record, *r.source, cfg.syslog, &msg);
      OctetCountFrame(msg, out);
      return;
    }
    default:
      EncodeJsonLine(r.record, *r.source, out);
      // json_lines needs its newline whatever the encoder did.
      if (out->empty() || out->back() != '\n') out->push_back('\n');
      return;
  }
}

}  // namespace internal

struct OutputWorker::Impl {
  // A batch sent and not yet confirmed, in send order.
  struct Pending {
    uint64_t ticket;
    SpoolPos end;  // Ack(end) once confirmed
    uint64_t records, bytes, skipped;
    bool rejected;  // some records were refused for good
  };

  OutputWorker& w;
  internal::StopSignal stop;
  std::unique_ptr<internal::Transport> transport;
  std::thread thread;

  mutable std::mutex mu;
  std::string last_error;  // guarded by mu

  std::deque<Pending> pending;
  bool connected = false;
  bool idle_closed = false;  // the receiver closed an idle connection
  int64_t backoff_ns = 0;
  int64_t next_commit_ns = 0;
  int64_t last_contact_ns = 0;  // last connect or send that worked
  std::mt19937_64 rng;

  explicit Impl(OutputWorker& worker) : w(worker) {
    const OutputConfig& c = w.cfg_;
    switch (c.type) {
      case OutputType::kLogstash:
      case OutputType::kGelfTcp:
      case OutputType::kSyslogTcp:
        transport = internal::NewTcpTransport(c, stop);
        break;
      case OutputType::kGelfUdp:
      case OutputType::kSyslogUdp:
        transport = internal::NewUdpTransport(c, stop);
        break;
      case OutputType::kLoki:
        transport = internal::NewLokiTransport(c, stop);
        break;
      case OutputType::kFile:
        transport = internal::NewFileTransport(c);
        break;
    }
    uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(MonotonicNs());
    rng.seed(seed);
    backoff_ns = c.backoff_min_ns;
  }

  void SetError(std::string line) {
    w.counters_.last_error_ns.store(RealtimeNs());
    std::lock_guard lock(mu);
    last_error = std::move(line);
  }

  std::string Prefix() const { return std::string(OutputTypeName(w.cfg_.type)) + " " + w.cfg_.address + ": "; }

  void Commit() {
    // Durable output first, then the cursor that says it is there.
    if (!transport->Flush()) return;
    (void)w.reader_->Commit();
  }

  void MaybeCommit() {
    int64_t now = MonotonicNs();
    if (now < next_commit_ns) return;
    Commit();
    next_commit_ns = now + kCommitEveryNs;
  }

  void AckUpTo(uint64_t confirmed) {
    bool delivered = false, clean = false;
    while (!pending.empty() && pending.front().ticket <= confirmed) {
      const Pending& p = pending.front();
      w.reader_->Ack(p.end);
      w.counters_.records_sent += p.records;
      w.counters_.bytes_sent += p.bytes;
      w.counters_.records_skipped += p.skipped;
      if (p.records > 0) {
        delivered = true;
        clean = !p.rejected;
      } else if (p.rejected) {
        clean = false;
      }
      pending.pop_front();
    }
    if (delivered) backoff_ns = w.cfg_.backoff_min_ns;
    // A rejection stays in last_error until a later batch goes through whole.
    if (clean) {
      std::lock_guard lock(mu);
      last_error.clear();
    }
  }

  // Drops the connection and what it had not confirmed, then waits out the
  // backoff (committing the cursor meanwhile; woken by Stop).
  void Failed(const Error& e) {
    transport->Close();
    connected = false;
    idle_closed = false;
    w.counters_.connected = false;
    pending.clear();
    w.reader_->Rewind();
    if (stop.raised()) return;  // the error is the stop itself
    w.counters_.send_errors++;
    w.counters_.reconnects++;
    // Jitter (±25 %) keeps many daemons from reconnecting in step.
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    int64_t wait = static_cast<int64_t>(static_cast<double>(backoff_ns) * jitter(rng));
    wait = std::clamp(wait, int64_t{1'000'000}, std::max<int64_t>(w.cfg_.backoff_max_ns, 1'000'000));
    backoff_ns = std::min(backoff_ns * 2, w.cfg_.backoff_max_ns);
    char secs[32];
    (void)std::snprintf(secs, sizeof secs, "%.1f", static_cast<double>(wait) / 1e9);
    SetError(Prefix() + e.message() + "; retrying in " + secs + " s");
    int64_t until = MonotonicNs() + wait;
    for (;;) {
      MaybeCommit();
      int64_t left = until - MonotonicNs();
      if (left <= 0 || !stop.Sleep(std::min(left, kCommitEveryNs))) return;
    }
  }

  bool Connect() {
    auto c = transport->Connect();
    if (!c) {
      Failed(c.error());
      return false;
    }
    connected = true;
    idle_closed = false;
    w.counters_.connected = true;
    last_contact_ns = MonotonicNs();
    return true;
  }

  void Run() {
    next_commit_ns = MonotonicNs() + kCommitEveryNs;
    std::vector<SpooledRecord> send;
    while (!stop.raised()) {
      MaybeCommit();
      // Connect at once (status shows a receiver that is down), except
      // after an idle close: then when there is something to send.
      if (!connected && !idle_closed && !Connect()) continue;
      if (connected) {
        auto confirmed = transport->Confirmed();
        if (!confirmed && pending.empty()) {
          // Closed with nothing in flight (a receiver's idle timeout):
          // nothing is lost, no error to report.
          transport->Close();
          connected = false;
          idle_closed = true;
          w.counters_.connected = false;
          continue;
        }
        if (!confirmed) {
          Failed(confirmed.error());
          continue;
        }
        AckUpTo(*confirmed);
      }

      int wait_ms = transport->Waiting() ? kReadWaitPendingMs : kReadWaitMs;
      auto batch = w.reader_->Read(w.cfg_.batch_records, w.cfg_.batch_bytes, wait_ms);
      if (!batch) {
        Failed(std::move(batch.error()).Wrap("read spool"));
        continue;
      }
      if (batch->empty()) {
        if (connected && pending.empty() && transport->ProbeWhenIdle() &&
            MonotonicNs() - last_contact_ns >= w.cfg_.idle_probe_ns) {
          // An idle receiver is checked now and then (idle_probe_ns), so
          // `connected` tells the truth while nothing is sent.
          connected = false;  // Connect() sets it again when the receiver answers
          (void)Connect();
        }
        continue;
      }
      send.clear();
      uint64_t skipped = 0;
      for (const SpooledRecord& r : *batch) {
        if (!ForOutput(r.source, w.cfg_.name)) {
          ++skipped;
          continue;
        }
        send.push_back(r);
        if (send.back().source == nullptr) send.back().source = &kNoSource;
      }
      SpoolPos end = batch->back().next;
      if (send.empty()) {
        // Nothing to send: the skipped records follow the last batch in
        // flight, or are done now when none is.
        if (pending.empty()) {
          w.reader_->Ack(end);
          w.counters_.records_skipped += skipped;
        } else {
          pending.back().end = end;
          pending.back().skipped += skipped;
        }
        continue;
      }
      if (!connected && !Connect()) continue;
      auto sent = transport->Send(send);
      if (!sent) {
        Failed(sent.error());
        continue;
      }
      if (sent->rejected > 0) {
        w.counters_.rejected += sent->rejected;
        w.counters_.send_errors++;
        SetError(Prefix() + sent->rejection);
      }
      last_contact_ns = MonotonicNs();
      pending.push_back({sent->ticket, end, send.size() - sent->rejected, sent->bytes, skipped, sent->rejected > 0});
    }
    // Stopping: take what is confirmed already, send nothing more.
    if (connected) {
      if (auto c = transport->Confirmed()) AckUpTo(*c);
    }
    Commit();
    transport->Close();
    w.counters_.connected = false;
  }
};

OutputWorker::OutputWorker(OutputConfig cfg, std::unique_ptr<SpoolReader> reader)
    : cfg_(std::move(cfg)), reader_(std::move(reader)), impl_(std::make_unique<Impl>(*this)) {}

OutputWorker::~OutputWorker() {
  Stop();
}

void OutputWorker::Start() {
  if (impl_->thread.joinable() || impl_->stop.raised()) return;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void OutputWorker::Stop() {
  impl_->stop.Raise();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string OutputWorker::last_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_error;
}

}  // namespace moor::logship
