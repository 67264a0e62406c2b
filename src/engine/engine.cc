// Engine: opening the state, finding containers, create, remove, rename,
// inspect and list. Lifecycle: engine_start.cc, engine_stop.cc.
#include "engine/engine.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "engine/container_config.h"
#include "engine/engine_internal.h"

namespace moor::engine {

using nlohmann::json;

int HttpStatusFor(const Error& e) {
  switch (e.errnum()) {
    case ENOENT: return 404;
    case EEXIST: case EBUSY: case EADDRINUSE: case EPERM: return 409;
    case EINVAL: return 400;
    case EALREADY: return 304;
    default: return 500;
  }
}

Engine::Engine(EngineConfig cfg) : cfg_(std::move(cfg)) {}

Engine::~Engine() {
  std::vector<std::shared_ptr<Live>> all;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    for (auto& [id, c] : containers_) all.push_back(c);
  }
  for (auto& c : all) {
    std::lock_guard lock(c->mu);
    c->health_stop = true;
    c->cv.notify_all();  // wakes health threads waiting out their interval
    if (c->sub_fd >= 0) shutdown(c->sub_fd, SHUT_RDWR);
  }
  // Subscription and health threads hold shared_ptrs and end on their own
  // once their sockets are shut down; give them a moment so they do not
  // touch a destroyed engine.
  for (auto& c : all) {
    std::unique_lock lock(c->mu);
    c->cv.wait_for(lock, std::chrono::seconds(2), [&] { return c->sub_fd < 0 && !c->health_running; });
  }
}

Result<std::unique_ptr<Engine>> Engine::Open(EngineConfig cfg) {
  std::unique_ptr<Engine> e(new Engine(std::move(cfg)));
  TRY_CTX(MkdirAll(e->cfg_.root, 0711), "state directory " + e->cfg_.root);
  TRY_CTX(MkdirAll(e->cfg_.run_root, 0711), "runtime directory " + e->cfg_.run_root);
  TRY(MkdirAll(e->cfg_.root + "/containers", 0710));
  TRY(MkdirAll(e->cfg_.run_root + "/c", 0700));
  e->store_ = TRY_CTX(store::StateStore::Open(e->cfg_.root), "open state database");
  e->netlink_ = net::MakeLibnlNetlink();
  auto images = TRY_CTX(image::ImageService::Open(e->cfg_.root), "open image store");
  e->images_ = std::make_unique<image::ImageService>(std::move(images));
  e->networks_ = std::make_unique<NetworkManager>(e->cfg_, *e->store_, *e->netlink_);
  e->volumes_ = std::make_unique<VolumeManager>(e->cfg_, *e->store_);
  TRY(e->networks_->Init());
  TRY(e->Load());
  return e;
}

Result<void> Engine::Load() {
  std::vector<std::shared_ptr<Live>> loaded;
  for (auto& o : TRY(store_->List(store::Kind::kContainer))) {
    auto rec = RecordFromJson(o.json);
    if (!rec) {
      log::Error("container " + o.id + ": " + rec.error().message() + " (skipped)");
      continue;
    }
    auto c = std::make_shared<Live>();
    c->rec = std::move(*rec);
    {
      std::lock_guard lock(mu_);
      containers_[c->rec.id] = c;
    }
    loaded.push_back(c);
  }
  for (auto& c : loaded) {
    if (auto r = Reconcile(c); !r) log::Error("container " + c->rec.name + ": " + r.error().message());
  }
  return {};
}

Result<std::shared_ptr<Engine::Live>> Engine::Find(const std::string& key) {
  std::lock_guard lock(mu_);
  if (key.empty()) return FailInvalid("no container given");
  if (auto it = containers_.find(key); it != containers_.end()) return it->second;
  std::string name = key[0] == '/' ? key.substr(1) : key;
  std::shared_ptr<Live> by_prefix;
  int prefix_matches = 0;
  for (auto& [id, c] : containers_) {
    if (c->rec.name == name) return c;
    if (id.rfind(key, 0) == 0) {
      by_prefix = c;
      ++prefix_matches;
    }
  }
  if (prefix_matches == 1) return by_prefix;
  if (prefix_matches > 1) return FailInvalid("container ID prefix " + key + " is ambiguous: give more characters");
  return Fail(Error(ENOENT, "no such container: " + key));
}

Result<ContainerRecord> Engine::Get(const std::string& key) {
  auto c = TRY(Find(key));
  std::lock_guard lock(c->mu);
  return c->rec;
}

Result<std::vector<ContainerRecord>> Engine::All() {
  std::vector<std::shared_ptr<Live>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, c] : containers_) all.push_back(c);
  }
  std::vector<ContainerRecord> out;
  for (auto& c : all) {
    std::lock_guard lock(c->mu);
    if (!c->removed) out.push_back(c->rec);
  }
  return out;
}

Result<void> Engine::Save(Live& c) {
  auto r = store_->Update(store::Kind::kContainer, {c.rec.id, c.rec.name, RecordToJson(c.rec)});
  if (!r) log::Error("container " + c.rec.name + ": save state: " + r.error().message());
  c.cv.notify_all();
  return r;
}

void Engine::Publish(const ContainerRecord& r, const std::string& action, std::map<std::string, std::string> extra) {
  Event e;
  e.type = "container";
  e.action = action;
  e.id = r.id;
  e.attributes = std::move(extra);
  e.attributes["name"] = r.name;
  e.attributes["image"] = r.image_ref;
  for (const auto& [k, v] : r.config.labels) e.attributes.emplace(k, v);
  events_.Publish(std::move(e));
}

bool Engine::NetworkInUse(const std::string& network_id) {
  auto all = All();
  if (!all) return true;
  for (const auto& r : *all) {
    if (r.endpoint.network_id == network_id) return true;
  }
  return false;
}

bool Engine::VolumeInUse(const std::string& name) {
  auto all = All();
  if (!all) return true;
  for (const auto& r : *all) {
    for (const auto& m : r.config.mounts) {
      if (m.type == "volume" && m.source == name) return true;
    }
  }
  return false;
}

Result<std::string> Engine::Create(const std::string& name_in, const std::string& body) {
  ContainerRecord rec;
  rec.config = TRY(ParseCreateBody(body));
  rec.id = RandomHex(64);
  rec.created = NowRfc3339Nano();
  if (!name_in.empty()) {
    std::string n = name_in[0] == '/' ? name_in.substr(1) : name_in;
    if (!ValidObjectName(n)) {
      return FailInvalid("invalid container name \"" + name_in +
                         "\": use letters, digits, '_', '.' and '-', starting with a letter or digit");
    }
    rec.name = n;
  }
  // Image: resolved now so a typo fails before anything is made.
  {
    std::lock_guard lock(images_mu_);
    auto img = images_->Resolve(rec.config.image);
    if (!img) return Fail(Error(ENOENT, img.error().message()));
    rec.image_ref = rec.config.image;
    rec.image_id = img->manifest.config.digest.str();
  }
  rec.runtime = rec.config.runtime.empty() ? cfg_.default_runtime : rec.config.runtime;
  if (RuntimePath(rec.runtime).empty()) {
    return FailInvalid("unknown runtime \"" + rec.runtime + "\": configure it with `moor daemon --add-runtime`");
  }
  const std::string& mode = rec.config.network_mode;
  bool bridged = !(mode == "host" || mode == "none" || mode.rfind("container:", 0) == 0);
  if (!bridged && !rec.config.ports.empty() && mode != "host") {
    return FailInvalid("published ports need a bridge network; --network " + mode + " has none");
  }
  if (mode.rfind("container:", 0) == 0) TRY(Find(mode.substr(10)));
  // Bind sources must exist (Docker's --mount rule; a missing source would
  // otherwise fail at start, or race with it).
  for (const auto& m : rec.config.mounts) {
    if (m.type == "bind" && access(m.source.c_str(), F_OK) != 0) {
      return FailInvalid("bind source path does not exist: " + m.source + " (create it, or fix the -v/--mount)");
    }
  }
  // Named volumes are made on first use, as Docker does.
  for (const auto& m : rec.config.mounts) {
    if (m.type == "volume" && !m.source.empty()) TRY(volumes_->Create(m.source, {}));
  }
  for (auto& m : rec.config.mounts) {
    if (m.type == "volume" && m.source.empty()) m.source = TRY(volumes_->Create("", {}, true)).name;
  }
  if (bridged) {
    std::string network = mode == "bridge" || mode == "default" || mode.empty() ? "bridge" : mode;
    rec.endpoint = TRY(networks_->Allocate(network, rec.id, rec.config.ipv4_address));
    rec.endpoint.aliases = rec.config.network_aliases;
  }
  // Insert with the name (a random one retried on collision).
  for (int attempt = 0;; ++attempt) {
    bool random_name = name_in.empty();
    if (random_name) rec.name = attempt < 5 ? RandomName() : RandomName() + "_" + RandomHex(4);
    auto r = store_->Insert(store::Kind::kContainer, {rec.id, rec.name, RecordToJson(rec)});
    if (r) break;
    if (r.error().errnum() == EEXIST && random_name && attempt < 20) continue;
    (void)networks_->ReleaseAll(rec.id);
    if (r.error().errnum() == EEXIST) {
      return Fail(Error(EEXIST, "container name \"" + rec.name +
                                    "\" is already in use: remove that container or choose another --name"));
    }
    return Fail(r.error());
  }
  auto made = MkdirAll(cfg_.ContainerDir(rec.id), 0710);
  if (!made) {
    (void)store_->Remove(store::Kind::kContainer, rec.id);
    (void)networks_->ReleaseAll(rec.id);
    return Fail(std::move(made.error()).Wrap("create container"));
  }
  auto c = std::make_shared<Live>();
  c->rec = rec;
  {
    std::lock_guard lock(mu_);
    containers_[rec.id] = c;
  }
  Publish(rec, "create");
  return rec.id;
}

Result<void> Engine::Remove(const std::string& key, bool force, bool volumes) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  if (c->removed) return Fail(Error(ENOENT, "no such container: " + key));
  if (c->rec.Running()) {
    if (!force) {
      return Fail(Error(EBUSY, "container " + c->rec.name +
                                   " is running: stop it first, or remove it with `moor rm -f`"));
    }
    TRY(StopLocked(*c, lock, 0, "SIGKILL"));
  }
  return RemoveLocked(*c, lock, volumes);
}

Result<void> Engine::RemoveLocked(Live& c, std::unique_lock<std::mutex>&, bool volumes) {
  if (c.removed) return {};
  FinalizeLocked(c);
  c.rec.state.status = "removing";
  std::string id = c.rec.id;
  {
    std::function<void(const ContainerRecord&)> hook;
    {
      std::lock_guard lock(hook_mu_);
      hook = before_remove_;
    }
    if (hook) hook(c.rec);  // log shipping opens the log before it goes
  }
  // Runtime leftovers of an interrupted start, then the files.
  (void)RemoveAll(cfg_.MonitorDir(id));
  auto r = RemoveAll(cfg_.ContainerDir(id));
  if (!r) return Fail(std::move(r.error()).Wrap("remove container " + c.rec.name));
  TRY(networks_->ReleaseAll(id));
  TRY(store_->Remove(store::Kind::kContainer, id));
  if (volumes) {
    for (const auto& m : c.rec.config.mounts) {
      // Docker's -v removes anonymous volumes only.
      if (m.type != "volume") continue;
      auto v = volumes_->Get(m.source);
      if (v && v->anonymous) (void)volumes_->Remove(m.source, false);
    }
  }
  c.removed = true;
  c.cv.notify_all();
  {
    std::lock_guard lock(mu_);
    containers_.erase(id);
  }
  Publish(c.rec, "destroy");
  return {};
}

Result<void> Engine::Rename(const std::string& key, const std::string& new_name_in) {
  std::string new_name = !new_name_in.empty() && new_name_in[0] == '/' ? new_name_in.substr(1) : new_name_in;
  if (!ValidObjectName(new_name)) {
    return FailInvalid("invalid container name \"" + new_name_in + "\": use letters, digits, '_', '.' and '-'");
  }
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  std::string old = c->rec.name;
  if (old == new_name) return Fail(Error(EEXIST, "container is already named " + new_name));
  c->rec.name = new_name;
  auto r = store_->Update(store::Kind::kContainer, {c->rec.id, new_name, RecordToJson(c->rec)});
  if (!r) {
    c->rec.name = old;
    if (r.error().errnum() == EEXIST) {
      return Fail(Error(EEXIST, "container name \"" + new_name + "\" is already in use"));
    }
    return Fail(r.error());
  }
  Publish(c->rec, "rename", {{"oldName", "/" + old}});
  return {};
}

Result<std::vector<std::string>> Engine::Prune() {
  std::vector<std::string> removed;
  for (const auto& r : TRY(All())) {
    if (r.Running()) continue;
    if (Remove(r.id, false, false)) removed.push_back(r.id);
  }
  return removed;
}

}  // namespace moor::engine
