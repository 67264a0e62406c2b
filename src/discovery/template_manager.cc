#include "discovery/template_manager.h"

#include <algorithm>
#include <set>
#include <vector>

#include "common/log.h"
#include "discovery/catalog.h"

namespace moor::discovery {

// The catalog may still be calling a watcher when Unwatch returns, so the
// callback reaches the manager only through this guard, which the
// destructor clears (waiting for a callback in flight).
struct TemplateManager::Notifier {
  std::mutex mu;
  TemplateManager* self = nullptr;
};

namespace {

// The catalog as a render reads it, noting which services it asks for (so
// WaitRendered knows which templates a service's change reaches).
class RecordingData : public TemplateData {
 public:
  explicit RecordingData(const Catalog& catalog) : inner_(catalog) {}
  std::vector<InstanceHealth> Service(const std::string& name, const std::string& tag,
                                      const std::vector<Health>& states) override {
    read_.insert(name);
    return inner_.Service(name, tag, states);
  }
  std::map<std::string, std::vector<std::string>> Services() override { return inner_.Services(); }
  std::optional<KvEntry> Key(const std::string& key) override { return inner_.Key(key); }
  std::vector<KvEntry> List(const std::string& prefix) override { return inner_.List(prefix); }
  Node LocalNode() override { return inner_.LocalNode(); }

  std::set<std::string> TakeRead() { return std::move(read_); }

 private:
  CatalogTemplateData inner_;
  std::set<std::string> read_;
};

}  // namespace

TemplateManager::TemplateManager(Catalog& catalog, ContainerOps* ops)
    : catalog_(catalog), ops_(ops), notifier_(std::make_shared<Notifier>()) {
  notifier_->self = this;
  watch_ = catalog_.Watch([n = notifier_](uint64_t) {
    std::lock_guard lk(n->mu);
    if (n->self) n->self->OnChange();
  });
  thread_ = std::thread([this] { Loop(); });
}

TemplateManager::~TemplateManager() {
  {
    std::lock_guard lk(notifier_->mu);
    notifier_->self = nullptr;
  }
  catalog_.Unwatch(watch_);
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<Template> TemplateManager::Load(const TemplateSpec& spec) {
  std::string source = spec.source_text;
  if (source.empty()) {
    if (spec.source_path.empty()) return FailInvalid("template " + spec.id + ": no source path or text");
    source = TRY_CTX(ops_->ReadFile(spec.container_id, spec.source_path),
                     "template " + spec.id + ": read " + spec.source_path);
  }
  return Template::Parse(spec.source_path.empty() ? spec.id : spec.source_path, source);
}

Result<void> TemplateManager::RenderInto(const TemplateSpec& spec) {
  if (spec.dest_path.empty()) return FailInvalid("template " + spec.id + ": no destination");
  Template t = TRY(Load(spec));
  CatalogTemplateData data(catalog_);
  std::string out = TRY(t.Render(data, spec.env));
  return ops_->WriteFile(spec.container_id, spec.dest_path, out, spec.mode);
}

Result<void> TemplateManager::Add(TemplateSpec spec) {
  if (spec.id.empty() || spec.dest_path.empty()) return FailInvalid("template: id and destination are required");
  Template t = TRY(Load(spec));
  if (spec.wait_min_ns < 0) spec.wait_min_ns = 0;
  if (spec.wait_max_ns < spec.wait_min_ns) spec.wait_max_ns = spec.wait_min_ns;

  auto e = std::make_shared<Entry>(std::move(spec), std::move(t));
  std::lock_guard render(render_mu_);
  bool ready;
  {
    std::lock_guard lk(mu_);
    entries_[e->spec.id] = e;
    ready = ready_;
    if (!ready) {
      e->pending = true;
      e->due_now = true;
    }
  }
  if (ready) Render(*e);
  return {};
}

void TemplateManager::Remove(const std::string& id) {
  {
    std::lock_guard render(render_mu_);
    std::lock_guard lk(mu_);
    entries_.erase(id);
  }
  settled_cv_.notify_all();
}

void TemplateManager::RemoveContainer(const std::string& container_id) {
  {
    std::lock_guard render(render_mu_);
    std::lock_guard lk(mu_);
    std::erase_if(entries_, [&](const auto& kv) { return kv.second->spec.container_id == container_id; });
  }
  settled_cv_.notify_all();
}

void TemplateManager::SetReady(bool ready) {
  {
    std::lock_guard lk(mu_);
    if (ready && !ready_) {
      for (auto& [id, e] : entries_)
        if (e->pending) e->due_now = true;
    }
    ready_ = ready;
  }
  cv_.notify_all();
}

std::optional<TemplateManager::Stats> TemplateManager::stats(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second->stats;
}

bool TemplateManager::WaitRendered(const std::string& service_name, uint64_t index, int64_t timeout_ns) {
  const auto deadline = Clock::now() + std::chrono::nanoseconds(std::max<int64_t>(timeout_ns, 0));
  std::unique_lock lk(mu_);
  return settled_cv_.wait_until(lk, deadline, [&] {
    for (const auto& [id, e] : entries_) {
      if (e->services_read && !e->services_read->contains(service_name)) continue;
      if (e->settled_index < index) return false;
    }
    return true;
  });
}

void TemplateManager::OnChange() {
  auto now = Clock::now();
  {
    std::lock_guard lk(mu_);
    if (entries_.empty()) return;
    for (auto& [id, e] : entries_) {
      if (!e->pending) {
        e->pending = true;
        e->first = now;
      }
      e->last = now;
    }
  }
  cv_.notify_all();
}

void TemplateManager::Loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    if (!ready_) {
      cv_.wait(lk);
      continue;
    }
    auto now = Clock::now();
    std::optional<Clock::time_point> next;
    std::vector<std::shared_ptr<Entry>> due;
    for (auto& [id, e] : entries_) {
      if (!e->pending) continue;
      auto at = std::min(e->last + std::chrono::nanoseconds(e->spec.wait_min_ns),
                         e->first + std::chrono::nanoseconds(e->spec.wait_max_ns));
      if (e->due_now || at <= now) {
        e->pending = false;
        e->due_now = false;
        due.push_back(e);
      } else if (!next || at < *next) {
        next = at;
      }
    }
    if (due.empty()) {
      if (next)
        cv_.wait_until(lk, *next);
      else
        cv_.wait(lk);
      continue;
    }
    lk.unlock();
    {
      std::lock_guard render(render_mu_);
      for (auto& e : due) {
        bool live;
        {
          std::lock_guard relk(mu_);
          auto it = entries_.find(e->spec.id);
          live = it != entries_.end() && it->second == e;
        }
        if (live) Render(*e);
      }
    }
    lk.lock();
  }
}

void TemplateManager::Render(Entry& e) {
  // Read before the render reads anything, so what it renders is at least
  // this fresh.
  const uint64_t index = catalog_.Index();
  RecordingData data(catalog_);
  if (auto r = RenderOnce(e, data); !r) return RecordError(e, r.error().message());
  e.logged_error.clear();  // a later failure is news again
  {
    std::lock_guard lk(mu_);
    e.settled_index = std::max(e.settled_index, index);
    e.services_read = data.TakeRead();
  }
  settled_cv_.notify_all();
}

Result<void> TemplateManager::RenderOnce(Entry& e, TemplateData& data) {
  const TemplateSpec& s = e.spec;
  if (!e.dest_known) {
    auto cur = ops_->ReadFile(s.container_id, s.dest_path);
    e.written = cur ? std::optional<std::string>(std::move(*cur)) : std::nullopt;  // unreadable: rewrite
    e.dest_known = true;
  }
  std::string out = TRY(e.tmpl.Render(data, s.env));
  {
    std::lock_guard lk(mu_);
    ++e.stats.renders;
  }
  if (!e.written || *e.written != out) {
    if (auto w = ops_->WriteFile(s.container_id, s.dest_path, out, s.mode); !w) {
      e.dest_known = false;  // its content is unknown now: compare afresh next time
      return Fail(std::move(w.error()).Wrap("write " + s.dest_path));
    }
    e.written = std::move(out);
    e.signal_owed = !s.reload_signal.empty();
    std::lock_guard lk(mu_);
    ++e.stats.writes;
  }
  // Owed also after a failed signal: the process has not seen the new file yet.
  if (e.signal_owed) {
    TRY_CTX(ops_->Signal(s.container_id, s.reload_signal), "signal " + s.reload_signal);
    e.signal_owed = false;
    std::lock_guard lk(mu_);
    ++e.stats.signals;
  }
  return {};
}

void TemplateManager::RecordError(Entry& e, const std::string& msg) {
  {
    std::lock_guard lk(mu_);
    ++e.stats.errors;
    e.stats.last_error = msg;
  }
  if (msg == e.logged_error) return;  // the same failure on every change: said once
  e.logged_error = msg;
  log::Warn("template " + e.spec.id + ": " + msg + " (keeping the previous file)");
}

}  // namespace moor::discovery
