// Renders templates (template_engine.h) from the catalog into containers —
// the job consul-template does as a sidecar, done by the daemon.
//
// Each template is rendered when added and again after catalog changes,
// debounced like consul-template's "wait": after a change it waits until
// wait_min passes with no further change, but never longer than wait_max
// after the first change of a burst. The output is written (atomically, by
// ContainerOps::WriteFile) only when it differs from what was last written,
// and the reload signal is sent only after such a write — so a flapping
// instance that ends where it started causes no reload.
//
// Renders run on one background thread (never on the catalog's watcher
// callback); a render error keeps the old file, is counted and logged once
// per distinct error, and the next change retries (a reload signal that
// failed is retried too).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/error.h"
#include "discovery/container_ops.h"
#include "discovery/template_engine.h"

namespace moor::discovery {

class Catalog;

struct TemplateSpec {
  std::string id;            // unique, e.g. container_id + ":" + template name
  std::string container_id;
  std::string source_path;   // inside the container (ContainerOps::ReadFile)…
  std::string source_text;   // …unless this is non-empty: the template itself
  std::string dest_path;     // inside the container
  std::string reload_signal; // "" = none
  int64_t wait_min_ns = 200'000'000;
  int64_t wait_max_ns = 2'000'000'000;  // raised to wait_min_ns if below it
  unsigned mode = 0644;
  std::map<std::string, std::string> env;  // what {{ env "X" }} sees
};

class TemplateManager {
 public:
  struct Stats {
    uint64_t renders = 0;  // successful renders (written or not)
    uint64_t writes = 0;
    uint64_t signals = 0;
    uint64_t errors = 0;   // failed renders, writes and signals
    std::string last_error;
  };

  // `ops` must outlive the manager, as must `catalog`.
  TemplateManager(Catalog& catalog, ContainerOps* ops);
  ~TemplateManager();
  TemplateManager(const TemplateManager&) = delete;
  TemplateManager& operator=(const TemplateManager&) = delete;

  // Reads and parses the source (EINVAL "SRC:LINE:COL: message" on a syntax
  // error; the read's error when the source cannot be read — nothing is
  // added then), then renders at once unless not ready: written and
  // signalled only if the output differs from the destination's current
  // content (a missing destination differs). A render/write failure here is
  // not an error of Add: it is counted and retried on the next change. An
  // existing id is replaced.
  Result<void> Add(TemplateSpec spec);
  // Renders `spec` once from the catalog into its container now: no signal,
  // nothing added. For a container not started yet, so its process finds
  // the file in place (nginx refuses to start without its upstream file);
  // the Add at its start then sees the same content and neither rewrites
  // nor signals. Errors: the source's read or parse, the render, the write.
  Result<void> RenderInto(const TemplateSpec& spec);
  // Stops rendering; returns after any render of it in progress has ended.
  void Remove(const std::string& id);
  void RemoveContainer(const std::string& container_id);
  // While not ready (the daemon restarted and the catalog is not rebuilt
  // yet, so it would render empty upstreams) renders are held back; turning
  // ready renders every held-back template at once. Starts ready.
  void SetReady(bool ready);

  std::optional<Stats> stats(const std::string& id) const;

  // Waits until every template that reads service `service_name` has been
  // rendered from catalog index `index` or later (Catalog::Index()) and its
  // output written and its reload signal delivered — or found unchanged.
  // A template reads a service when its last successful render asked for
  // it; one never rendered yet counts as reading every service. True when
  // all are (at once if none reads it); false once `timeout_ns` passes
  // (e.g. a render failing, or renders held back by SetReady(false)).
  bool WaitRendered(const std::string& service_name, uint64_t index, int64_t timeout_ns);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Entry(TemplateSpec s, Template t) : spec(std::move(s)), tmpl(std::move(t)) {}
    TemplateSpec spec;
    Template tmpl;
    bool dest_known = false;                 // `written` reflects the destination
    std::optional<std::string> written;      // what the destination holds
    bool pending = false;                    // a change awaits rendering
    bool due_now = false;                    // deferred by SetReady(false) or Add
    Clock::time_point first, last;           // of the current burst of changes
    Stats stats;
    bool signal_owed = false;                // written, reload signal not yet delivered
    std::string logged_error;                // last error logged (no repeats)
    // Under mu_: the catalog index the last successful render read from
    // (its output in place and signalled), and the services it read
    // (nullopt: no successful render yet).
    uint64_t settled_index = 0;
    std::optional<std::set<std::string>> services_read;
  };
  struct Notifier;

  // Reads (from the container unless source_text is given) and parses the source.
  Result<Template> Load(const TemplateSpec& spec);
  void OnChange();
  void Loop();
  // Caller holds render_mu_ (not mu_).
  void Render(Entry& e);
  Result<void> RenderOnce(Entry& e, TemplateData& data);
  void RecordError(Entry& e, const std::string& msg);

  Catalog& catalog_;
  ContainerOps* ops_;
  std::mutex render_mu_;  // serialises renders; taken before mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable settled_cv_;  // a render settled or a template went (WaitRendered)
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  bool ready_ = true;
  bool stop_ = false;
  std::shared_ptr<Notifier> notifier_;
  int watch_ = -1;
  std::thread thread_;
};

}  // namespace moor::discovery
