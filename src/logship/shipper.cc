// The shipper's tail thread and its outputs (see shipper.h for the flow).
#include "logship/shipper.h"

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/log.h"
#include "logship/format/multiline.h"
#include "logship/tail/tailer.h"
#include "metrics/registry.h"

namespace moor::logship {

using nlohmann::json;

namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Label(const std::map<std::string, std::string>& l, const char* k) {
  auto it = l.find(k);
  return it == l.end() ? "" : it->second;
}

// What a record's labels are made of; a change gives the source a new id.
std::string MetaKey(const SourceMeta& m) {
  std::string k = m.container + '\0' + m.app + '\0' + m.service + '\0' + m.image + '\0' + m.release + '\0' + m.node;
  for (const auto& o : m.outputs) k += '\0' + o;
  return k;
}

struct Source {
  LogSource src;
  SourceSettings settings;
  SourceMeta meta;
  std::string meta_key;
  std::unique_ptr<LogTailer> tailer;
  std::unique_ptr<LineJoiner> joiner[2];
  // Checkpoint position: nothing before it is still only in a joiner.
  TailPos safe;
  TailPos last;  // after the last line read
  // The position before the first line of each stream's pending event, and
  // that line's read order (the earlier one bounds the checkpoint).
  TailPos pending_pos[2];
  uint64_t pending_seq[2] = {0, 0};
  uint64_t seq = 0;
  bool listed = true;
  int idle_after_gone = 0;
  int64_t partial_since_ns = 0;  // since when the tailer holds an unfinished line
  uint64_t seen_missed = 0, seen_lost = 0, seen_bad = 0;  // tailer stats already added to the totals
  std::string settings_error;  // logged once
  // Records the spool could not take (disk full, too many open files), in
  // order, each with the checkpoint position its append allows. While any
  // are held the source is not read further and its checkpoint stays before
  // them: nothing is lost, even across a crash.
  struct Held {
    OwnedRecord rec;
    std::optional<TailPos> safe_after;
  };
  std::deque<Held> held;
  int64_t retry_at_ns = 0;
};

// Where the checkpoint may go once everything read so far is in the spool.
void SetSafe(Source& s, const TailPos& p) {
  if (s.held.empty()) {
    s.safe = p;
  } else {
    s.held.back().safe_after = p;
  }
}

}  // namespace

struct Shipper::Impl {
  ShipperConfig cfg;
  SourceLister* lister = nullptr;
  std::unique_ptr<Spool> spool;
  std::vector<std::unique_ptr<OutputWorker>> outputs;

  std::mutex mu;  // guards sources (Status reads), refresh_, stop_
  std::condition_variable cv;
  bool refresh = false, stopping = false, stopped = false;
  std::map<std::string, std::unique_ptr<Source>> sources;  // by container id
  std::map<std::string, TailPos> saved;                    // from the last checkpoint, not yet claimed
  uint32_t next_id = 1;
  bool first_listing_done = false;
  std::thread thread;
  std::atomic<uint64_t> lines_read{0}, append_errors{0};
  // Records larger than the whole spool budget: never shippable, counted.
  std::atomic<uint64_t> records_refused{0};
  std::atomic<uint64_t> held_records{0};  // waiting for the spool to take them again
  // Lines lost before the spool: log files rotated away unread (a writer far
  // faster than the shipper), and records that were not json-file records.
  std::atomic<uint64_t> missed_files{0}, lost_lines{0}, bad_records{0};
  std::string last_error;
  int collector_id = 0;
  // Per output: drops seen at the last check, and whether an episode of
  // dropping is going on (logged once when it starts and once when it ends).
  struct Drops {
    uint64_t seen = 0;
    bool dropping = false;
    int quiet = 0;  // checks without new drops
  };
  std::map<std::string, Drops> drops;
  void ReportDrops();

  void Run();
  void Relist();
  Source* Upsert(const LogSource& src);
  size_t PollSource(Source& s);
  void FlushJoiners(Source& s, int64_t now, bool force);
  void Append(Source& s, Record r);
  // Appends one record; false when it must be held and retried.
  bool TryAppend(Source& s, const Record& r);
  // Retries a source's held records (once a second, or now); true when none
  // are left.
  bool Drain(Source& s, bool now);
  // A failure of the spool as a whole (publish, checkpoint): logged when it
  // changes, not on every retry while the disk stays full. Tail thread only.
  void SpoolFailed(const Error& e);
  std::string last_spool_error;
  void Checkpoint();
  std::string CheckpointBlob();
  void Collect(metrics::SampleWriter& w);
};

Shipper::Shipper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Shipper::~Shipper() { Stop(); }

Result<std::unique_ptr<Shipper>> Shipper::Start(ShipperConfig cfg, SourceLister& lister) {
  std::set<std::string> names;
  for (const auto& o : cfg.outputs) {
    if (!names.insert(o.name).second) {
      return FailInvalid("two log outputs are named \"" + o.name + "\": give one a name, like NAME=" +
                         std::string(OutputTypeName(o.type)) + "://…");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->cfg = std::move(cfg);
  impl->lister = &lister;
  std::string blob;
  impl->spool = TRY_CTX(Spool::Open(impl->cfg.dir + "/spool", impl->cfg.spool, &blob), "log shipping");
  if (!blob.empty()) {
    try {
      auto j = json::parse(blob);
      impl->next_id = j.value("next_id", 1u);
      json tails = j.value("tails", json::object());
      for (const auto& [id, p] : tails.items()) {
        impl->saved[id] = TailPos{p.value("dev", uint64_t{0}), p.value("ino", uint64_t{0}), p.value("off", uint64_t{0})};
      }
    } catch (const json::exception& e) {
      log::Warn(std::string("log shipping: the spool's checkpoint is unreadable (") + e.what() +
              "); container logs are read again from their start");
    }
  }
  // Readers of outputs no longer configured would hold segments forever.
  if (DIR* d = opendir((impl->cfg.dir + "/spool/cursors").c_str())) {
    std::vector<std::string> stale;
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n.find('.') != std::string::npos) continue;
      if (!names.count(n)) stale.push_back(n);
    }
    closedir(d);
    for (const auto& n : stale) {
      if (auto r = impl->spool->RemoveReader(n); !r) log::Warn("log shipping: " + r.error().message());
    }
  }
  for (const auto& o : impl->cfg.outputs) {
    auto reader = TRY_CTX(impl->spool->OpenReader(o.name), "log output " + o.name);
    impl->outputs.push_back(std::make_unique<OutputWorker>(o, std::move(reader)));
  }
  for (auto& w : impl->outputs) {
    impl->drops[w->config().name].seen = w->reader().Dropped();  // counted before this start
    w->Start();
  }
  Impl* raw = impl.get();
  impl->collector_id = metrics::DefaultRegistry().AddCollector([raw](metrics::SampleWriter& w) { raw->Collect(w); });
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<Shipper>(new Shipper(std::move(impl)));
}

void Shipper::Stop() {
  auto& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.stopped) return;
    m.stopped = true;
    m.stopping = true;
  }
  m.cv.notify_all();
  if (m.thread.joinable()) m.thread.join();
  for (auto& w : m.outputs) w->Stop();
  metrics::DefaultRegistry().RemoveCollector(m.collector_id);
}

void Shipper::Adopt(const LogSource& src) {
  auto& m = *impl_;
  std::lock_guard lock(m.mu);
  if (m.stopped) return;
  // Runs on the engine's thread: nothing here may touch the spool (its
  // writer is the tail thread, which publishes outside mu). A new source is
  // made with empty joiners, so Upsert appends nothing; a known one is left
  // as it is.
  auto it = m.sources.find(src.container_id);
  Source* s = it != m.sources.end() ? it->second.get() : m.Upsert(src);
  s->listed = false;  // going away: read to the end of what it has, then forgotten
  // Opens the log and every newer rotated file without reading them: their
  // descriptors keep them readable after the files are deleted; the tail
  // thread reads them from there.
  if (auto h = s->tailer->Hold(); !h) {
    log::Warn("log shipping: container " + src.name + ": " + h.error().message());
  }
}

void Shipper::Refresh() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->refresh = true;
  }
  impl_->cv.notify_all();
}

void Shipper::Impl::Run() {
  auto next_list = std::chrono::steady_clock::now();
  auto next_checkpoint = next_list + std::chrono::nanoseconds(cfg.checkpoint_interval_ns);
  for (;;) {
    bool relist = false;
    {
      std::lock_guard lock(mu);
      if (stopping) break;
      relist = refresh || std::chrono::steady_clock::now() >= next_list;
      refresh = false;
    }
    if (relist) {
      Relist();
      next_list = std::chrono::steady_clock::now() + std::chrono::nanoseconds(cfg.list_interval_ns);
    }
    size_t lines = 0;
    {
      std::lock_guard lock(mu);
      int64_t now = NowNs();
      for (auto it = sources.begin(); it != sources.end();) {
        Source& s = *it->second;
        if (!Drain(s, false)) {  // the spool still refuses: read nothing more
          ++it;
          continue;
        }
        size_t n = PollSource(s);
        lines += n;
        // Only once the file is read to its end: in a backlog the next read
        // may hold the rest of an event (its lines are old, not quiet).
        if (n == 0) FlushJoiners(s, now, false);
        // A container no longer listed (removed) is read to the end of what
        // its open file holds, then forgotten.
        if (!s.listed && n == 0 && s.held.empty() && !s.tailer->partial_pending() && ++s.idle_after_gone >= 3) {
          FlushJoiners(s, now, true);
          it = sources.erase(it);
          continue;
        }
        ++it;
      }
    }
    if (auto r = spool->Publish(); !r) SpoolFailed(r.error());
    if (std::chrono::steady_clock::now() >= next_checkpoint) {
      Checkpoint();
      next_checkpoint = std::chrono::steady_clock::now() + std::chrono::nanoseconds(cfg.checkpoint_interval_ns);
    }
    if (lines == 0) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping || refresh; });
    }
  }
  // Last lines in, joiners out, then the final checkpoint.
  {
    std::lock_guard lock(mu);
    int64_t now = NowNs();
    for (auto& [id, s] : sources) {
      if (!Drain(*s, true)) continue;  // its checkpoint stays before what is held
      PollSource(*s);
      FlushJoiners(*s, now, true);
    }
  }
  if (auto r = spool->Publish(); !r) log::Warn("log shipping: " + r.error().message());
  Checkpoint();
}

void Shipper::Impl::Relist() {
  auto listed = lister->ListSources();
  if (!listed) {
    log::Warn("log shipping: listing containers: " + listed.error().message());
    return;
  }
  std::lock_guard lock(mu);
  if (!first_listing_done) {
    // Positions of containers removed while the daemon was down: forget them.
    std::set<std::string> present;
    for (const auto& src : *listed) present.insert(src.container_id);
    std::erase_if(saved, [&](const auto& kv) { return !present.count(kv.first); });
    first_listing_done = true;
  }
  for (auto& [id, s] : sources) s->listed = false;
  for (auto& src : *listed) Upsert(src)->listed = true;
}

// Under mu: the source of a listed container, made on first sight (from its
// checkpointed position), its settings and labels brought up to date.
Source* Shipper::Impl::Upsert(const LogSource& src) {
  auto& slot = sources[src.container_id];
  bool fresh = !slot;
  if (fresh) {
    slot = std::make_unique<Source>();
    TailPos start;
    if (auto it = saved.find(src.container_id); it != saved.end()) {
      start = it->second;
      saved.erase(it);
    }
    // Newer log files held open while it catches up count against the same
    // disk the spool may use.
    slot->tailer =
        std::make_unique<LogTailer>(src.log_path, src.max_files, start, 1 << 20, cfg.spool.budget_bytes);
    slot->safe = slot->last = start;
  }
  Source& s = *slot;
  s.idle_after_gone = 0;
  bool labels_changed = fresh || s.src.labels != src.labels;
  s.src = src;
  if (labels_changed) {
    auto st = SettingsFromLabels(src.labels);
    if (!st) {
      if (s.settings_error != st.error().message()) {
        s.settings_error = st.error().message();
        log::Warn("log shipping: container " + src.name + ": " + s.settings_error + " (its lines go to every output)");
      }
      st = SourceSettings{};
    }
    // A joiner holding lines keeps them until it is replaced: flush first.
    FlushJoiners(s, NowNs(), true);
    s.settings = *st;
    for (auto& j : s.joiner) j.reset();
    if (!s.settings.multiline_start.empty()) {
      MultilineOptions mo;
      mo.start_pattern = s.settings.multiline_start;
      for (auto& j : s.joiner) {
        auto made = LineJoiner::Make(mo);
        if (!made) {
          log::Warn("log shipping: container " + src.name + ": label moor.log.multiline.start: " +
                  made.error().message() + " (lines are shipped one by one)");
          break;
        }
        j = std::move(*made);
      }
      if (!s.joiner[0] || !s.joiner[1]) {
        s.joiner[0].reset();
        s.joiner[1].reset();
      }
    }
  }
  SourceMeta m;
  m.container_id = src.container_id;
  m.container = src.name;
  m.app = Label(src.labels, "moor.app");
  m.service = Label(src.labels, "moor.app.service");
  if (m.service.empty()) m.service = Label(src.labels, "moor.service");
  m.image = src.image;
  m.release = src.release;
  m.node = cfg.node;
  m.outputs = s.settings.outputs;
  std::string key = MetaKey(m);
  // Held records keep the labels they were read under: relabel once they
  // are in (the flush of joined lines, under the old labels, may hold some).
  if (key != s.meta_key && s.held.empty()) {
    FlushJoiners(s, NowNs(), true);
    if (s.held.empty()) {
      m.id = next_id++;
      s.meta = std::move(m);
      s.meta_key = std::move(key);
    }
  }
  return &s;
}

void Shipper::Impl::Append(Source& s, Record r) {
  std::string fields;
  if (s.settings.json) {  // moor.log.json: a JSON object line's fields travel with it
    if (auto f = ParseAppJson(r.text)) {
      fields = std::move(*f);
      r.fields = fields;
    }
  }
  if (s.held.empty() && TryAppend(s, r)) return;
  s.held.push_back({OwnedRecord{r.time_ns, r.stream, r.source, std::string(r.text), std::string(r.fields)}, {}});
  held_records.fetch_add(1, std::memory_order_relaxed);
  if (s.held.size() == 1) s.retry_at_ns = SteadyNs() + 1'000'000'000;
}

bool Shipper::Impl::TryAppend(Source& s, const Record& r) {
  auto a = spool->Append(s.meta, r);
  if (a) return true;
  if (last_error != a.error().message()) {
    last_error = a.error().message();
    log::Warn("log shipping: container " + s.src.name + ": " + last_error +
              (a.error().errnum() == E2BIG ? " (the record is not shipped)" : " (its lines wait; retrying every second)"));
  }
  if (a.error().errnum() == E2BIG) {  // can never fit: counted, not retried
    records_refused.fetch_add(1);
    return true;
  }
  append_errors.fetch_add(1);
  return false;
}

bool Shipper::Impl::Drain(Source& s, bool now) {
  if (s.held.empty()) return true;
  if (!now && SteadyNs() < s.retry_at_ns) return false;
  size_t before = s.held.size();
  while (!s.held.empty()) {
    auto& h = s.held.front();
    if (!TryAppend(s, h.rec.view())) break;
    if (h.safe_after) s.safe = *h.safe_after;
    s.held.pop_front();
    held_records.fetch_sub(1, std::memory_order_relaxed);
  }
  if (!s.held.empty()) {
    s.retry_at_ns = SteadyNs() + 1'000'000'000;
    return false;
  }
  refresh = true;  // labels that changed meanwhile apply from the next listing on
  log::Info("log shipping: container " + s.src.name + ": the spool takes lines again (" + std::to_string(before) +
            " held record(s) appended)");
  last_error.clear();
  return true;
}

size_t Shipper::Impl::PollSource(Source& s) {
  uint64_t read = 0;
  auto on_line = [&](const TailLine& l) {
    ++read;
    TailPos before = s.last;
    s.last = l.next;
    ++s.seq;
    if (s.settings.none) {
      if (!s.joiner[0]) SetSafe(s, l.next);
      return;
    }
    int k = l.stream == Stream::kStderr ? 1 : 0;
    if (!s.joiner[k]) {
      Append(s, Record{l.time_ns, l.stream, s.meta.id, l.text, {}});
    } else {
      bool was_pending = s.joiner[k]->pending();
      bool emitted = false;
      s.joiner[k]->Add(l.time_ns, l.stream, s.meta.id, l.text, [&](const OwnedRecord& o) {
        emitted = true;
        Append(s, o.view());
      });
      if (s.joiner[k]->pending() && (!was_pending || emitted)) {
        s.pending_pos[k] = before;
        s.pending_seq[k] = s.seq;
      }
    }
    // The checkpoint may move past this line unless an event still holds
    // lines read before it.
    bool p0 = s.joiner[0] && s.joiner[0]->pending(), p1 = s.joiner[1] && s.joiner[1]->pending();
    if (!p0 && !p1) {
      SetSafe(s, l.next);
    } else if (p0 && p1) {
      SetSafe(s, s.pending_seq[0] < s.pending_seq[1] ? s.pending_pos[0] : s.pending_pos[1]);
    } else {
      SetSafe(s, p0 ? s.pending_pos[0] : s.pending_pos[1]);
    }
  };
  auto n = s.tailer->Poll(on_line);
  lines_read.fetch_add(read, std::memory_order_relaxed);
  const TailStats& ts = s.tailer->stats();
  if (ts.missed_files != s.seen_missed || ts.lost_lines != s.seen_lost) {
    missed_files.fetch_add(ts.missed_files - s.seen_missed);
    lost_lines.fetch_add(ts.lost_lines - s.seen_lost);
    log::Warn("log shipping: container " + s.src.name + " writes faster than its log can be shipped: " +
              std::to_string(ts.missed_files) + " rotated log file(s) given up unread so far (" +
              std::to_string(ts.lost_lines) + " lines counted); raise --log-max-size or slow it down");
    s.seen_missed = ts.missed_files;
    s.seen_lost = ts.lost_lines;
  }
  if (ts.bad_records != s.seen_bad) {
    bad_records.fetch_add(ts.bad_records - s.seen_bad);
    s.seen_bad = ts.bad_records;
  }
  if (!n) {
    if (last_error != n.error().message()) {
      last_error = n.error().message();
      log::Warn("log shipping: container " + s.src.name + ": " + last_error);
    }
    return 0;
  }
  int64_t now = NowNs();
  if (*n > 0 || !s.tailer->partial_pending()) {
    s.partial_since_ns = 0;
  } else if (s.partial_since_ns == 0) {
    s.partial_since_ns = now;
  } else if (now - s.partial_since_ns > 2'000'000'000) {
    s.partial_since_ns = 0;
    // The monitor writes a line without its newline only at the container's
    // exit (or in 16 KiB pieces, back to back): after 2 quiet seconds the
    // line is complete.
    size_t flushed = s.tailer->FlushPartial(on_line);
    lines_read.fetch_add(flushed, std::memory_order_relaxed);
    return flushed;
  }
  return *n;
}

void Shipper::Impl::FlushJoiners(Source& s, int64_t now, bool force) {
  for (int k = 0; k < 2; ++k) {
    if (!s.joiner[k] || !s.joiner[k]->pending()) continue;
    s.joiner[k]->Flush(now, force, [&](const OwnedRecord& o) {
      Append(s, o.view());
    });
  }
  bool p0 = s.joiner[0] && s.joiner[0]->pending(), p1 = s.joiner[1] && s.joiner[1]->pending();
  if (!p0 && !p1) {
    SetSafe(s, s.last);
  } else if (!p0 || !p1) {
    SetSafe(s, p0 ? s.pending_pos[0] : s.pending_pos[1]);
  }
}

std::string Shipper::Impl::CheckpointBlob() {
  json tails = json::object();
  std::lock_guard lock(mu);
  for (const auto& [id, s] : sources) {
    tails[id] = {{"dev", s->safe.dev}, {"ino", s->safe.ino}, {"off", s->safe.offset}};
  }
  // Positions of containers not seen since the restart stay until they are.
  for (const auto& [id, p] : saved) tails[id] = {{"dev", p.dev}, {"ino", p.ino}, {"off", p.offset}};
  return json{{"next_id", next_id}, {"tails", tails}}.dump();
}

void Shipper::Impl::SpoolFailed(const Error& e) {
  append_errors.fetch_add(1);
  if (e.message() == last_spool_error) return;
  last_spool_error = e.message();
  log::Warn("log shipping: " + last_spool_error + " (retrying; lines read meanwhile wait)");
}

void Shipper::Impl::ReportDrops() {
  for (auto& w : outputs) {
    const std::string& name = w->config().name;
    uint64_t now = w->reader().Dropped();
    auto& st = drops[name];
    if (now > st.seen) {
      if (!st.dropping) {
        uint64_t b = cfg.spool.budget_bytes;
        std::string budget = b >= (1u << 20) ? std::to_string(b >> 20) + " MiB" : std::to_string(b >> 10) + " KiB";
        log::Warn("log output " + name + ": the log spool reached its disk budget (--log-disk-budget " + budget +
                  ") while " + name +
                  "'s receiver lags: its oldest lines are dropped (" + std::to_string(now) +
                  " so far, see moor logship); bring the receiver back or raise the budget");
        st.dropping = true;
      }
      st.quiet = 0;
      st.seen = now;
    } else if (st.dropping && ++st.quiet >= 60) {
      log::Info("log output " + name + ": no lines dropped for a minute (" + std::to_string(now) + " in all)");
      st.dropping = false;
    }
  }
}

void Shipper::Impl::Checkpoint() {
  ReportDrops();
  if (auto r = spool->Checkpoint(CheckpointBlob()); !r) {
    SpoolFailed(std::move(r.error()).Wrap("checkpoint"));
  } else if (!last_spool_error.empty()) {
    log::Info("log shipping: the spool is written again");
    last_spool_error.clear();
  }
  // (Each output's worker commits its own cursor, after making what it sent
  // durable where it can: the file output syncs first.)
}

json Shipper::Status() {
  auto& m = *impl_;
  json outs = json::array();
  int64_t now = NowNs();
  for (auto& w : m.outputs) {
    const auto& c = w->counters();
    auto& r = w->reader();
    int64_t oldest = r.OldestUnackedNs();
    outs.push_back({{"name", w->config().name},
                    {"type", std::string(OutputTypeName(w->config().type))},
                    {"address", w->config().address},
                    {"connected", c.connected.load()},
                    {"records_sent", c.records_sent.load()},
                    {"bytes_sent", c.bytes_sent.load()},
                    {"records_skipped", c.records_skipped.load()},
                    {"dropped", r.Dropped()},
                    {"rejected", c.rejected.load()},
                    {"lag_bytes", r.LagBytes()},
                    {"lag_seconds", oldest > 0 && now > oldest ? (now - oldest) / 1e9 : 0.0},
                    {"send_errors", c.send_errors.load()},
                    {"reconnects", c.reconnects.load()},
                    {"last_error", w->last_error()}});
  }
  auto st = m.spool->Stats();
  size_t nsources;
  {
    std::lock_guard lock(m.mu);
    nsources = m.sources.size();
  }
  return {{"node", m.cfg.node},
          {"outputs", outs},
          {"sources", nsources},
          {"lines_read", m.lines_read.load()},
          {"source_missed_files", m.missed_files.load()},
          {"source_lost_lines", m.lost_lines.load()},
          {"source_bad_records", m.bad_records.load()},
          {"spool_errors", m.append_errors.load()},
          {"records_held", m.held_records.load()},
          {"records_refused", m.records_refused.load()},
          {"spool",
           {{"bytes", st.bytes},
            {"segments", st.segments},
            {"budget", m.cfg.spool.budget_bytes},
            {"records_appended", st.records_appended}}}};
}

void Shipper::Impl::Collect(metrics::SampleWriter& w) {
  w.Family("moor_logship_lines_read_total", "counter", "Container log lines the shipper has read.");
  w.Sample({}, static_cast<double>(lines_read.load()));
  w.Family("moor_logship_source_missed_files_total", "counter",
           "Rotated container log files given up before they were read (a writer faster than shipping).");
  w.Sample({}, static_cast<double>(missed_files.load()));
  w.Family("moor_logship_source_lost_lines_total", "counter", "Lines in those files, counted when given up.");
  w.Sample({}, static_cast<double>(lost_lines.load()));
  w.Family("moor_logship_source_bad_records_total", "counter", "Log file records that were not json-file records.");
  w.Sample({}, static_cast<double>(bad_records.load()));
  w.Family("moor_logship_spool_errors_total", "counter",
           "Failed writes to the log spool (disk full, I/O errors); the lines wait and are retried.");
  w.Sample({}, static_cast<double>(append_errors.load()));
  w.Family("moor_logship_records_held", "gauge", "Log records read but waiting for the spool to take them.");
  w.Sample({}, static_cast<double>(held_records.load()));
  w.Family("moor_logship_records_refused_total", "counter",
           "Log records larger than the whole spool budget: not shipped.");
  w.Sample({}, static_cast<double>(records_refused.load()));
  w.Family("moor_logship_queue_bytes", "gauge", "Bytes in the log spool on disk.");
  auto st = spool->Stats();
  w.Sample({}, static_cast<double>(st.bytes));
  w.Family("moor_logship_queue_budget_bytes", "gauge", "The log spool's disk budget.");
  w.Sample({}, static_cast<double>(cfg.spool.budget_bytes));
  int64_t now = NowNs();
  struct Row {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(OutputWorker&)> value;
  };
  const Row rows[] = {
      {"moor_logship_records_sent_total", "counter", "Log records delivered per output.",
       [](OutputWorker& o) { return static_cast<double>(o.counters().records_sent.load()); }},
      {"moor_logship_bytes_sent_total", "counter", "Bytes sent per output (as encoded).",
       [](OutputWorker& o) { return static_cast<double>(o.counters().bytes_sent.load()); }},
      {"moor_logship_dropped_total", "counter",
       "Log records an output lost because the spool's disk budget was full.",
       [](OutputWorker& o) { return static_cast<double>(o.reader().Dropped()); }},
      {"moor_logship_rejected_total", "counter", "Log records the receiver refused (Loki 4xx).",
       [](OutputWorker& o) { return static_cast<double>(o.counters().rejected.load()); }},
      {"moor_logship_send_errors_total", "counter", "Failed sends and connections per output.",
       [](OutputWorker& o) { return static_cast<double>(o.counters().send_errors.load()); }},
      {"moor_logship_connected", "gauge", "1 when the output's receiver is reachable.",
       [](OutputWorker& o) { return o.counters().connected.load() ? 1.0 : 0.0; }},
      {"moor_logship_lag_bytes", "gauge", "Spool bytes not yet delivered per output.",
       [](OutputWorker& o) { return static_cast<double>(o.reader().LagBytes()); }},
      {"moor_logship_lag_seconds", "gauge", "Age of the oldest record not yet delivered per output.",
       [now](OutputWorker& o) {
         int64_t t = o.reader().OldestUnackedNs();
         return t > 0 && now > t ? (now - t) / 1e9 : 0.0;
       }},
  };
  for (const auto& row : rows) {
    w.Family(row.name, row.type, row.help);
    for (auto& o : outputs) w.Sample({{"output", o->config().name}}, row.value(*o));
  }
}

}  // namespace moor::logship
