// CheckRunner: one thread per probed or TTL check.
//
// Lifetime: a check's thread shares its Entry through a shared_ptr and uses
// the runner's Impl (mutex, sink, ops). Remove() stops the thread (its stop
// token also aborts a probe waiting on the network) but does not join it —
// an exec probe cannot be interrupted — and parks it in `retired`; finished
// threads are joined on the next Add/Remove, the rest by the destructor, so
// no thread ever outlives the state it touches.
//
// Reporting: the sink is called only from a check's own thread, without the
// mutex held, so reports of one check arrive in order and the sink may call
// back into the runner. Remove() waits for a sink call of that check already
// under way (so no report arrives after it returns), except when it is
// itself called from a sink, where waiting could deadlock. TtlUpdate() waits
// until its report was delivered, so the caller sees its effect.
//
// Thresholds (Consul's): a passing result counts toward the success streak,
// warning and critical toward the failure streak; the reported status turns
// passing after success_before_passing consecutive passes and warning or
// critical after failures_before_critical consecutive failures (0 and 1
// both mean "at once"). Until then the reported status is def.initial. The
// first result is always reported: if a threshold holds it back, as
// def.initial with the probe's output and how far the streak has got, so
// the catalog shows why a check is not passing yet. Later results are
// reported when the status changes; output-only changes are not (they would
// churn the catalog on every run). TTL checks have no thresholds: every
// TtlUpdate that changes status or output is reported.
#include "discovery/check_runner.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "discovery/discovery_metrics.h"
#include "discovery/probes.h"

namespace moor::discovery {
namespace {

using Clock = std::chrono::steady_clock;

// The runner whose sink the current thread is inside (see Remove()).
thread_local const void* tl_in_sink_of = nullptr;

bool IsProbed(const std::string& type) {
  return type == "tcp" || type == "http" || type == "fastcgi" || type == "exec";
}

}  // namespace

Result<void> ValidateCheck(const CheckDef& d) {
  if (d.id.empty()) return FailInvalid("check id is empty");
  if (d.type == "tcp" || d.type == "fastcgi") {
    if (d.target.empty()) return FailInvalid(d.type + " check needs a target (IP:PORT)");
    if (d.type == "fastcgi" && d.path.empty()) {
      return FailInvalid("fastcgi check needs a path (the script, e.g. /ping)");
    }
  } else if (d.type == "http") {
    if (!d.target.starts_with("http://") && !d.target.starts_with("https://")) {
      return FailInvalid("http check needs a target URL starting with http:// or https://");
    }
  } else if (d.type == "exec") {
    if (d.args.empty()) return FailInvalid("exec check needs args (the command to run)");
    if (d.container_id.empty()) return FailInvalid("exec check needs a container_id");
  } else if (d.type == "ttl") {
    if (d.ttl_ns <= 0) return FailInvalid("ttl check needs ttl > 0");
  } else if (d.type != "docker") {
    return FailInvalid("unknown check type \"" + d.type + "\" (tcp, http, fastcgi, exec, ttl or docker)");
  }
  if (IsProbed(d.type)) {
    if (d.interval_ns <= 0) return FailInvalid(d.type + " check needs interval > 0");
    if (d.timeout_ns <= 0) return FailInvalid(d.type + " check needs timeout > 0");
  }
  return {};
}

struct CheckRunner::Impl {
  struct Entry {
    explicit Entry(const CheckDef& d) : def(d), status(d.initial) {}

    const CheckDef def;
    std::condition_variable_any cv;  // waits use Impl::mu
    std::atomic<bool> done{false};   // the thread has finished

    // Guarded by Impl::mu.
    bool stopped = false;
    bool in_sink = false;
    Health status;           // the reported (thresholded) status
    std::string output;
    bool reported = false;   // a first result was reported
    bool ever_passed = false;
    int successes = 0;
    int failures = 0;
    // TTL checks.
    Clock::time_point ttl_deadline;
    bool ttl_expired = false;
    uint64_t seq = 0;        // bumped by each state change to report
    uint64_t delivered = 0;  // last seq the sink has seen
  };
  struct Slot {
    std::shared_ptr<Entry> entry;
    std::jthread thread;  // not joinable for docker checks
  };

  Impl(ContainerOps* o, Sink s) : ops(o), sink(std::move(s)) {}

  // Marks a slot's check stopped and parks its thread in `retired`.
  // REQUIRES: mu held.
  void StopLocked(Slot slot) {
    slot.entry->stopped = true;
    slot.entry->cv.notify_all();
    if (slot.thread.joinable()) {
      slot.thread.request_stop();
      retired.push_back(std::move(slot));
    }
  }

  // Finished threads leave `retired` to be joined by the caller, unlocked.
  // REQUIRES: mu held.
  std::vector<Slot> TakeFinishedLocked() {
    std::vector<Slot> out;
    for (auto it = retired.begin(); it != retired.end();) {
      if (it->entry->done.load()) {
        out.push_back(std::move(*it));
        it = retired.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  // Calls the sink for e without the mutex. REQUIRES: lk holds mu.
  void Deliver(Entry& e, std::unique_lock<std::mutex>& lk, Health status, const std::string& output) {
    if (e.stopped || !sink) return;
    e.in_sink = true;
    lk.unlock();
    const void* prev = tl_in_sink_of;
    tl_in_sink_of = this;
    sink(e.def.id, status, output);
    tl_in_sink_of = prev;
    lk.lock();
    e.in_sink = false;
    e.cv.notify_all();
  }

  // Folds a probe result into the streaks; what to report, if anything.
  // REQUIRES: mu held.
  static std::optional<CheckResult> ApplyLocked(Entry& e, const CheckResult& r) {
    const CheckDef& d = e.def;
    bool pass = r.status == Health::kPassing;
    if (pass) {
      ++e.successes;
      e.failures = 0;
    } else {
      ++e.failures;
      e.successes = 0;
    }
    int need = pass ? std::max(1, d.success_before_passing) : std::max(1, d.failures_before_critical);
    int streak = pass ? e.successes : e.failures;
    Health next = streak >= need ? r.status : e.status;
    std::string output = r.output;
    if (streak < need) {
      output += " (" + std::to_string(streak) + " of " + std::to_string(need) + " consecutive " +
                (pass ? "passes before passing)" : "failures before critical)");
    }
    bool report = !e.reported || next != e.status;
    e.status = next;
    e.output = output;
    if (next == Health::kPassing) e.ever_passed = true;
    if (!report) return std::nullopt;
    e.reported = true;
    return CheckResult{next, std::move(output)};
  }

  void ProbeLoop(const std::shared_ptr<Entry>& e, std::stop_token st) {
    const CheckDef& d = e->def;
    for (;;) {
      Clock::time_point started = Clock::now();
      CheckResult r = RunProbe(d, ops, st);
      std::unique_lock lk(mu);
      if (e->stopped || st.stop_requested()) break;
      CountCheckResult(d.type, r.status);
      if (auto rep = ApplyLocked(*e, r)) Deliver(*e, lk, rep->status, rep->output);
      int64_t every = e->ever_passed || d.start_interval_ns <= 0 ? d.interval_ns : d.start_interval_ns;
      Clock::time_point next = started + std::chrono::nanoseconds(every);
      if (e->cv.wait_until(lk, st, next, [&] { return e->stopped; })) break;
      if (st.stop_requested()) break;
    }
    e->done.store(true);
  }

  void TtlLoop(const std::shared_ptr<Entry>& e, std::stop_token st) {
    std::unique_lock lk(mu);
    auto wake = [&] { return e->stopped || e->delivered < e->seq; };
    while (!e->stopped && !st.stop_requested()) {
      if (e->delivered < e->seq) {
        uint64_t seq = e->seq;
        Health status = e->status;
        std::string output = e->output;
        Deliver(*e, lk, status, output);
        e->delivered = std::max(e->delivered, seq);
        e->cv.notify_all();
        continue;
      }
      if (!e->ttl_expired && Clock::now() >= e->ttl_deadline) {
        e->ttl_expired = true;
        e->status = Health::kCritical;
        e->output = "TTL expired";
        e->reported = true;
        ++e->seq;
        continue;
      }
      if (e->ttl_expired) {
        e->cv.wait(lk, st, wake);
      } else {
        // A copy: the wait reads its deadline while the mutex is released.
        Clock::time_point deadline = e->ttl_deadline;
        e->cv.wait_until(lk, st, deadline, wake);
      }
    }
    lk.unlock();
    e->done.store(true);
  }

  ContainerOps* const ops;
  const Sink sink;
  std::mutex mu;
  std::map<std::string, Slot> checks;  // guarded by mu
  std::vector<Slot> retired;           // guarded by mu
};

CheckRunner::CheckRunner(ContainerOps* ops, Sink sink) : impl_(std::make_unique<Impl>(ops, std::move(sink))) {}

CheckRunner::~CheckRunner() {
  std::vector<Impl::Slot> all;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [id, slot] : impl_->checks) impl_->StopLocked(std::move(slot));
    impl_->checks.clear();
    all = std::move(impl_->retired);
  }
  all.clear();  // joins: probes end at their stop token, an exec at its timeout
}

Result<void> CheckRunner::Add(const CheckDef& def) {
  TRY_CTX(ValidateCheck(def), "check \"" + def.id + "\"");
  std::vector<Impl::Slot> finished;
  std::unique_lock lk(impl_->mu);
  if (auto it = impl_->checks.find(def.id); it != impl_->checks.end()) {
    std::shared_ptr<Impl::Entry> old = it->second.entry;
    impl_->StopLocked(std::move(it->second));
    impl_->checks.erase(it);
    if (tl_in_sink_of != impl_.get()) old->cv.wait(lk, [&] { return !old->in_sink; });
  }
  Impl::Slot slot;
  slot.entry = std::make_shared<Impl::Entry>(def);
  Impl* impl = impl_.get();
  if (def.type == "ttl") {
    slot.entry->ttl_deadline = Clock::now() + std::chrono::nanoseconds(def.ttl_ns);
    slot.thread = std::jthread([impl, e = slot.entry](std::stop_token st) { impl->TtlLoop(e, std::move(st)); });
  } else if (IsProbed(def.type)) {
    slot.thread = std::jthread([impl, e = slot.entry](std::stop_token st) { impl->ProbeLoop(e, std::move(st)); });
  }
  impl_->checks.emplace(def.id, std::move(slot));
  finished = impl_->TakeFinishedLocked();
  lk.unlock();
  return {};  // `finished` joins here, unlocked
}

void CheckRunner::Remove(const std::string& check_id) {
  std::vector<Impl::Slot> finished;
  std::unique_lock lk(impl_->mu);
  auto it = impl_->checks.find(check_id);
  if (it == impl_->checks.end()) return;
  std::shared_ptr<Impl::Entry> e = it->second.entry;
  impl_->StopLocked(std::move(it->second));
  impl_->checks.erase(it);
  if (tl_in_sink_of != impl_.get()) e->cv.wait(lk, [&] { return !e->in_sink; });
  finished = impl_->TakeFinishedLocked();
  lk.unlock();
}

bool CheckRunner::Has(const std::string& check_id) const {
  std::lock_guard lk(impl_->mu);
  return impl_->checks.contains(check_id);
}

Result<void> CheckRunner::TtlUpdate(const std::string& check_id, Health status, const std::string& output) {
  std::unique_lock lk(impl_->mu);
  auto it = impl_->checks.find(check_id);
  if (it == impl_->checks.end()) return Fail(Error(ENOENT, "check \"" + check_id + "\" not found"));
  std::shared_ptr<Impl::Entry> e = it->second.entry;
  if (e->def.type != "ttl") {
    return FailInvalid("check \"" + check_id + "\" is a " + e->def.type + " check, not a TTL check");
  }
  CountCheckResult("ttl", status);
  e->ttl_deadline = Clock::now() + std::chrono::nanoseconds(e->def.ttl_ns);
  e->ttl_expired = false;
  bool changed = !e->reported || e->status != status || e->output != output;
  e->status = status;
  e->output = output;
  e->reported = true;
  if (!changed) {
    e->cv.notify_all();  // the timer restarts
    return {};
  }
  uint64_t seq = ++e->seq;
  e->cv.notify_all();
  // From inside a sink the TTL thread may be the caller itself: no waiting.
  if (tl_in_sink_of != impl_.get()) e->cv.wait(lk, [&] { return e->stopped || e->delivered >= seq; });
  return {};
}

}  // namespace moor::discovery
