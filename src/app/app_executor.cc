#include "app/app_executor.h"

#include "app/code_release.h"

#include <algorithm>
#include <set>

#include "app/code_release.h"
#include "app/container_body.h"
#include "app/up_plan.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::app {

namespace {

constexpr int64_t kPollNs = 100'000'000;

bool IsRunning(const std::string& state) {
  return state == "running" || state == "restarting" || state == "paused";
}

int ReplicaOf(const ContainerStatus& c) {
  auto it = c.labels.find(kLabelReplica);
  if (it == c.labels.end()) return 0;
  int n = 0;
  for (char ch : it->second) {
    if (ch < '0' || ch > '9' || n > 100000) return 0;
    n = n * 10 + (ch - '0');
  }
  return n;
}

std::string LabelOf(const ContainerStatus& c, const char* key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? std::string() : it->second;
}

Error NoSuchService(const AppFile& app, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& [n, _] : app.services) names.push_back(n);
  return Error::Invalid("no service \"" + name + "\" in " + app.path + "; its services: " + Join(names, ", "));
}

// The selected services and everything they depend on, transitively.
Result<std::set<std::string>> Selection(const AppFile& app, const std::vector<std::string>& wanted) {
  std::set<std::string> out;
  std::vector<std::string> todo;
  if (wanted.empty()) {
    for (const auto& [name, _] : app.services) todo.push_back(name);
  } else {
    for (const auto& name : wanted) {
      if (!app.services.count(name)) return Fail(NoSuchService(app, name));
      todo.push_back(name);
    }
  }
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    if (!out.insert(name).second) continue;
    const auto* spec = &app.services.at(name);
    for (const auto& d : spec->depends_on) todo.push_back(d.service);
  }
  return out;
}

std::string Short(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n) + "…"; }

}  // namespace

Result<void> AppExecutor::WaitReady(const std::string& id, const std::string& name, int64_t timeout_ns) {
  const int64_t deadline = b_.NowNs() + timeout_ns;
  std::string why = "it did not start";
  for (;;) {
    auto st = b_.Inspect(id);
    if (!st) {
      if (st.error().errnum() == ENOENT) return FailInvalid(name + " was removed while moor waited for it to get ready");
      return Fail(std::move(st.error()));
    }
    if (st->state == "exited" || st->state == "dead") {
      std::string tail = b_.LogTail(id, 5);
      return FailInvalid(name + " exited with code " + std::to_string(st->exit_code) + " before it was ready" +
                         (tail.empty() ? "" : "; its last output: " + Short(tail, 400)) +
                         " — fix its command or image, see `moor logs " + name + "`");
    }
    bool ready = false;
    if (st->state != "running") {
      why = "it is " + st->state + (st->restart_count ? " (restarted " + std::to_string(st->restart_count) + " times)" : "");
    } else if (!st->health.empty() && st->health != "healthy") {
      why = "its healthcheck says " + st->health;
    } else {
      auto reg = TRY(b_.Registration(id));
      if (reg.passing < reg.instances) {
        why = "its discovery check has not passed" + (reg.detail.empty() ? std::string() : " (" + Short(reg.detail, 300) + ")");
      } else if (reg.rendered < reg.templates) {
        why = "its templates are not rendered yet" + (reg.detail.empty() ? std::string() : " (" + Short(reg.detail, 300) + ")");
      } else {
        ready = true;
      }
    }
    if (ready) return {};
    if (b_.NowNs() >= deadline) {
      return FailInvalid(name + " did not get ready within " + FormatDuration(timeout_ns) + ": " + why +
                         " — see `moor logs " + name + "`, or give more time with --timeout");
    }
    b_.SleepNs(kPollNs);
  }
}

Result<void> AppExecutor::Up(const AppFile& app, const UpOptions& o) {
  auto selected = TRY(Selection(app, o.services));
  for (const auto& [name, n] : o.scale) {
    if (!app.services.count(name)) return FailInvalid("--scale: no service \"" + name + "\" in " + app.path);
    if (n < 0) return FailInvalid("--scale " + name + "=" + std::to_string(n) + ": replicas must be 0 or more");
  }
  if (o.pull != "missing" && o.pull != "always" && o.pull != "never")
    return FailInvalid("--pull \"" + o.pull + "\": use missing, always or never");
  std::vector<std::string> order;
  for (const auto& name : StartOrder(app)) {
    if (selected.count(name)) order.push_back(name);
  }

  // Images, then what each container is made of.
  std::map<std::string, std::string> image_ids;  // by ref
  std::map<std::string, std::string> digests;    // by service
  std::map<std::string, std::vector<std::string>> templates;
  for (const auto& name : order) {
    const auto& s = app.services.at(name);
    if (!image_ids.count(s.image)) {
      std::string id;
      if (s.build) {
        if (!o.build) id = TRY(b_.ImageId(s.image));
        if (id.empty()) {
          log_(name + ": building " + s.image + " from " + s.build->context);
          id = TRY_CTX(b_.Build(*s.build, s.image), "service " + name + ": build (nothing was started)");
        }
      } else {
        if (o.pull != "always") id = TRY(b_.ImageId(s.image));
        if (id.empty()) {
          const Pos& at = s.image_pos.line ? s.image_pos : s.pos;
          const std::string where = app.path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                                    ": services." + name + ".image: ";
          if (o.pull == "never")
            return FailInvalid(where + s.image + " is not present here (and --pull never) — pull, import or build it "
                                       "first, or fix the name; nothing was started");
          log_(name + ": pulling " + s.image);
          auto pulled = b_.Pull(s.image);
          if (!pulled)
            return FailInvalid(where + s.image + " is not present here and the pull failed: " +
                               pulled.error().message() + " — import or build it first (moor image import, moor build), "
                               "or fix the name; nothing was started");
          id = *pulled;
        }
      }
      image_ids[s.image] = id;
    }
    auto& contents = templates[name];
    for (const auto& t : s.templates) {
      auto text = ReadFile(t.source);
      if (!text)
        return FailInvalid("service " + name + ": template " + t.source + ": " + text.error().message() +
                           " — fix the path in " + app.path);
      contents.push_back(std::move(*text));
    }
    digests[name] = ContainerDigest(s, image_ids[s.image], contents);
  }

  // Code (docs/deploy.md): each service with code.source is recorded with the
  // node's deploy service and its directory shipped as a release unless it is
  // live already; a `from` service mounts another's releases. A rolling
  // service's containers are pinned to the live release, and its digest
  // folds that release in, as the daemon's rolling switch does.
  std::map<std::string, CodeState> code;  // by the service that owns the releases
  auto prepare_code = [&](const std::string& name) -> Result<void> {
    if (code.count(name)) return {};
    const auto& s = app.services.at(name);
    nlohmann::json record = {{"strategy", s.code->strategy},
                             {"batch", s.code->batch},
                             {"reload_signal", s.reload_signal},
                             {"replicas", s.replicas},
                             {"image", s.image},
                             {"code_path", s.code->path},
                             {"config_digest", ServiceDigest(s)},
                             {"digest", digests[name]},
                             {"discovery_name", s.service ? (s.service->ignore ? "" : s.service->name) : name},
                             {"stop_timeout_ns", s.stop_grace_period_ns}};
    if (s.code->strategy == "reload") record["reload_signal"] = "SIGUSR2";
    auto st = TRY_CTX(b_.PutCodeService(app.name, name, record), "service " + name);
    record["body"] = ContainerBody(app, s, 0, digests[name], CodeBinding{st.releases_dir, 0});
    nlohmann::json files = nlohmann::json::array();
    const auto& contents = templates[name];
    for (size_t i = 0; i < s.templates.size(); ++i)
      files.push_back({{"path", TemplatePath(kTemplateDir, s, i)}, {"content", contents[i]}, {"mode", 0644}});
    record["files"] = files;
    st = TRY_CTX(b_.PutCodeService(app.name, name, record), "service " + name);
    int64_t live = TRY_CTX(b_.DeployCode(app.name, name, s.code->source), "service " + name + ": deploy " + s.code->source);
    if (live != st.live_release) log_(name + ": release " + std::to_string(live) + " live");
    st.live_release = live;
    code[name] = st;
    return {};
  };
  for (const auto& name : order) {
    const auto& s = app.services.at(name);
    if (!s.code) continue;
    const std::string owner = s.code->from.empty() ? name : s.code->from;
    TRY(prepare_code(owner));
    if (owner == name && s.code->strategy == "rolling")
      digests[name] = ReleaseDigest(digests[name], code[owner].live_release);
  }
  // The code binding of a replica of `s` (none without code:).
  auto binding = [&](const ServiceSpec& s) -> std::optional<CodeBinding> {
    if (!s.code) return std::nullopt;
    const std::string owner = s.code->from.empty() ? s.name : s.code->from;
    const auto& st = code.at(owner);
    return CodeBinding{st.releases_dir, s.code->from.empty() && s.code->strategy == "rolling" ? st.live_release : 0};
  };

  // Networks and volumes the selected services use.
  const auto labels = AppObjectLabels(app);
  std::set<std::string> nets, vols;
  for (const auto& name : order) {
    const auto& s = app.services.at(name);
    for (const auto& n : s.networks) nets.insert(n.name);
    for (const auto& m : s.volumes) {
      if (m.type == "volume" && !m.source.empty()) vols.insert(m.source);
    }
  }
  for (const auto& key : nets) {
    auto it = app.networks.find(key);
    if (it == app.networks.end() || it->second.external) continue;
    if (TRY_CTX(b_.EnsureNetwork(it->second, labels), "network " + it->second.name))
      log_("network " + it->second.name + ": created");
  }
  for (const auto& key : vols) {
    auto it = app.volumes.find(key);
    if (it == app.volumes.end() || it->second.external) continue;
    if (TRY_CTX(b_.EnsureVolume(it->second, labels), "volume " + it->second.name))
      log_("volume " + it->second.name + ": created");
  }

  auto existing_status = TRY(b_.ListContainers(app.name));
  std::map<std::string, ContainerStatus> by_id;
  std::vector<ExistingContainer> existing;
  for (const auto& c : existing_status) {
    if (LabelOf(c, kLabelApp) != app.name) continue;
    by_id[c.id] = c;
    existing.push_back({c.id, c.name, LabelOf(c, kLabelService), ReplicaOf(c), LabelOf(c, kLabelDigest),
                        IsRunning(c.state), c.state == "exited" && c.exit_code == 0});
  }
  std::vector<DesiredService> desired;
  for (const auto& name : order) {
    auto sc = o.scale.find(name);
    const auto& spec = app.services.at(name);
    desired.push_back({name, digests[name], sc != o.scale.end() ? sc->second : spec.replicas,
                       spec.restart.name == "no" || spec.restart.name == "on-failure"});
  }
  std::vector<std::string> all;
  for (const auto& [name, _] : app.services) all.push_back(name);
  auto plan = PlanUp(desired, all, existing, o.remove_orphans);

  auto create_and_start = [&](const ServiceSpec& s, int replica) -> Result<std::string> {
    std::string cname = ContainerName(app.name, s.name, replica);
    auto body = ContainerBody(app, s, replica, digests[s.name], binding(s));
    std::string id = TRY_CTX(b_.Create(cname, body), cname);
    auto fail = [&](Error e) -> Result<std::string> {
      (void)b_.Remove(id);  // nothing half-made
      return Fail(std::move(e).Wrap(cname));
    };
    const auto& contents = templates[s.name];
    for (size_t i = 0; i < s.templates.size(); ++i) {
      if (auto r = b_.PutFile(id, TemplatePath(kTemplateDir, s, i), contents[i], 0644); !r) return fail(r.error());
    }
    if (!s.templates.empty()) {
      // In place before the process starts (nginx will not start without its upstream file).
      if (auto r = b_.RenderTemplates(id); !r) return fail(r.error());
    }
    if (auto r = b_.Start(id); !r) return fail(r.error());
    return id;
  };
  auto grace = [&](const std::string& service) -> int64_t {
    auto it = app.services.find(service);
    return it == app.services.end() ? -1 : it->second.stop_grace_period_ns;
  };
  auto remove = [&](const std::string& id, const std::string& service) -> Result<void> {
    const auto* st = by_id.count(id) ? &by_id[id] : nullptr;
    std::string cname = st ? st->name : id;
    if (st && IsRunning(st->state)) {
      auto r = b_.Stop(id, grace(service));
      if (!r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()).Wrap("stop " + cname));
    }
    auto r = b_.Remove(id);
    if (!r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()).Wrap("remove " + cname));
    log_(cname + ": removed");
    return {};
  };
  // Containers of `service` as they are now (for depends_on).
  auto wait_service = [&](const Dependency& d, const std::string& dependent) -> Result<void> {
    auto now = TRY(b_.ListContainers(app.name));
    for (const auto& c : now) {
      if (LabelOf(c, kLabelService) != d.service) continue;
      if (d.condition == "service_completed_successfully") {
        const int64_t deadline = b_.NowNs() + o.timeout_ns;
        for (;;) {
          auto st = TRY(b_.Inspect(c.id));
          if (st.state == "exited" || st.state == "dead") {
            if (st.exit_code != 0)
              return FailInvalid(dependent + " depends on " + d.service + " completing successfully, but " + c.name +
                                 " exited with code " + std::to_string(st.exit_code) + " — see `moor logs " +
                                 c.name + "`");
            break;
          }
          if (b_.NowNs() >= deadline)
            return FailInvalid(dependent + " depends on " + d.service + " completing, but " + c.name +
                               " still runs after " + FormatDuration(o.timeout_ns) + " — raise --timeout");
          b_.SleepNs(kPollNs);
        }
      } else if (d.condition == "service_healthy") {
        TRY_CTX(WaitReady(c.id, c.name, o.timeout_ns), dependent + " waits for " + d.service);
      }
    }
    return {};
  };

  size_t done = 0;
  for (const auto& name : order) {
    const auto& s = app.services.at(name);
    std::vector<const UpAction*> mine;
    for (const auto& a : plan) {
      if (a.service == name) mine.push_back(&a);
    }
    if (mine.empty()) continue;
    for (const auto& d : s.depends_on) TRY(wait_service(d, name));
    for (const auto* a : mine) {
      switch (a->kind) {
        case UpAction::Kind::kStart: {
          const auto& st = by_id[a->container];
          TRY_CTX(b_.Start(a->container), st.name);
          log_(st.name + ": started");
          break;
        }
        case UpAction::Kind::kCreate: {
          TRY(create_and_start(s, a->replica));
          log_(ContainerName(app.name, name, a->replica) + ": created");
          break;
        }
        case UpAction::Kind::kReplace: {
          const auto& old = by_id[a->container];
          std::string cname = ContainerName(app.name, name, a->replica);
          if (!IsRunning(old.state)) {
            TRY(remove(a->container, name));
            TRY(create_and_start(s, a->replica));
            log_(cname + ": created (replaces " + old.name + ")");
            break;
          }
          std::string id = TRY(create_and_start(s, a->replica));
          if (auto r = WaitReady(id, cname, o.timeout_ns); !r) {
            (void)b_.Remove(id);
            return FailInvalid("replacing " + old.name + ": " + r.error().message() + " (" + old.name +
                               " keeps running; " + cname + " was removed)");
          }
          log_(cname + ": ready (replaces " + old.name + ")");
          TRY(remove(a->container, name));
          break;
        }
        case UpAction::Kind::kRemove:
          TRY(remove(a->container, name));
          break;
      }
      ++done;
    }
  }
  // Orphans (services the file no longer has).
  for (const auto& a : plan) {
    if (app.services.count(a.service)) continue;
    TRY(remove(a.container, a.service));
    ++done;
  }

  if (o.wait) {
    auto now = TRY(b_.ListContainers(app.name));
    for (const auto& c : now) {
      if (!selected.count(LabelOf(c, kLabelService)) || !IsRunning(c.state)) continue;
      TRY(WaitReady(c.id, c.name, o.timeout_ns));
    }
    log_(app.name + ": ready");
  }
  if (done == 0) log_(app.name + ": up to date");
  return {};
}

Result<void> AppExecutor::Down(const AppFile& app, const DownOptions& o) {
  auto list = TRY(b_.ListContainers(app.name));
  // Dependents first: the reverse of the start order; unknown services last.
  std::map<std::string, size_t> rank;
  auto order = StartOrder(app);
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = order.size() - i;
  std::stable_sort(list.begin(), list.end(), [&](const ContainerStatus& a, const ContainerStatus& b) {
    auto ra = rank.count(LabelOf(a, kLabelService)) ? rank[LabelOf(a, kLabelService)] : 0;
    auto rb = rank.count(LabelOf(b, kLabelService)) ? rank[LabelOf(b, kLabelService)] : 0;
    return ra < rb;
  });
  // One dependency level at a time, its containers stopped together (each
  // deregistered and drained by the daemon first), then removed.
  auto rank_of = [&](const ContainerStatus& c) {
    auto it = rank.find(LabelOf(c, kLabelService));
    return it == rank.end() ? size_t{0} : it->second;
  };
  for (size_t i = 0; i < list.size();) {
    size_t j = i;
    std::vector<const ContainerStatus*> level;
    for (; j < list.size() && rank_of(list[j]) == rank_of(list[i]); ++j) {
      if (LabelOf(list[j], kLabelApp) == app.name) level.push_back(&list[j]);
    }
    i = j;
    std::vector<std::string> ids;
    std::vector<int64_t> timeouts;
    std::vector<const ContainerStatus*> stopped;
    for (const auto* c : level) {
      if (!IsRunning(c->state)) continue;
      int64_t t = o.timeout_ns;
      if (t < 0) {
        auto it = app.services.find(LabelOf(*c, kLabelService));
        if (it != app.services.end()) t = it->second.stop_grace_period_ns;
      }
      ids.push_back(c->id);
      timeouts.push_back(t);
      stopped.push_back(c);
    }
    auto results = b_.StopAll(ids, timeouts);
    for (size_t k = 0; k < results.size() && k < stopped.size(); ++k) {
      if (!results[k] && results[k].error().errnum() != ENOENT)
        return Fail(std::move(results[k].error()).Wrap("stop " + stopped[k]->name));
    }
    for (const auto* c : level) {
      auto r = b_.Remove(c->id);
      if (!r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()).Wrap("remove " + c->name));
      log_(c->name + ": removed");
    }
  }
  for (const auto& n : TRY(b_.ListNetworks(app.name))) {
    auto r = b_.RemoveNetwork(n);
    if (!r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()).Wrap("network " + n));
    log_("network " + n + ": removed");
  }
  if (o.volumes) {
    for (const auto& v : TRY(b_.ListVolumes(app.name))) {
      auto r = b_.RemoveVolume(v);
      if (!r && r.error().errnum() != ENOENT) return Fail(std::move(r.error()).Wrap("volume " + v));
      log_("volume " + v + ": removed");
    }
  }
  return {};
}

Result<void> AppExecutor::Restart(const AppFile& app, const std::vector<std::string>& services, int64_t timeout_ns) {
  std::set<std::string> want;
  for (const auto& s : services) {
    if (!app.services.count(s)) return Fail(NoSuchService(app, s));
    want.insert(s);
  }
  auto list = TRY(b_.ListContainers(app.name));
  size_t n = 0;
  for (const auto& name : StartOrder(app)) {
    if (!want.empty() && !want.count(name)) continue;
    std::vector<const ContainerStatus*> mine;
    for (const auto& c : list) {
      if (LabelOf(c, kLabelService) == name && LabelOf(c, kLabelApp) == app.name) mine.push_back(&c);
    }
    std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return ReplicaOf(*a) < ReplicaOf(*b); });
    for (const auto* c : mine) {
      if (IsRunning(c->state)) TRY_CTX(b_.Stop(c->id, app.services.at(name).stop_grace_period_ns), "stop " + c->name);
      TRY_CTX(b_.Start(c->id), "start " + c->name);
      TRY(WaitReady(c->id, c->name, timeout_ns));
      log_(c->name + ": restarted");
      ++n;
    }
  }
  if (n == 0) return FailInvalid("nothing to restart: no container of " + (services.empty() ? app.name : Join(services, ", ")) + " exists — run `moor up` first");
  return {};
}

}  // namespace moor::app
