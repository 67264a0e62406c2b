#include "engine/logship_service.h"

#include <unistd.h>

#include <atomic>
#include <climits>
#include <thread>

#include "common/log.h"
#include "engine/engine.h"
#include "logship/shipper.h"

namespace moor::engine {

namespace {

std::string HostNameOr(const std::string& name) {
  if (!name.empty()) return name;
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// The release a container runs: its moor.release label (rolling services),
// else the `current` link of the releases directory it binds at
// /srv/releases (reload services switch it in place).
std::string ReleaseOf(const ContainerRecord& r) {
  if (auto it = r.config.labels.find("moor.release"); it != r.config.labels.end()) return it->second;
  for (const auto& m : r.config.mounts) {
    if (m.type != "bind" || m.target != "/srv/releases") continue;
    char buf[PATH_MAX];
    ssize_t n = readlink((m.source + "/current").c_str(), buf, sizeof buf - 1);
    if (n > 0) return std::string(buf, static_cast<size_t>(n));
  }
  return "";
}

logship::LogSource SourceOf(const ContainerRecord& r, const EngineConfig& cfg) {
  logship::LogSource s;
  s.container_id = r.id;
  s.name = r.name;
  s.image = r.image_ref;
  s.log_path = cfg.ContainerDir(r.id) + "/" + r.id + "-json.log";
  s.max_files = cfg.log_max_files;
  s.labels = r.config.labels;
  s.release = ReleaseOf(r);
  return s;
}

class EngineSources : public logship::SourceLister {
 public:
  explicit EngineSources(Engine& e) : engine_(e) {}
  Result<std::vector<logship::LogSource>> ListSources() override {
    auto all = TRY(engine_.All());
    std::vector<logship::LogSource> out;
    out.reserve(all.size());
    for (const auto& r : all) out.push_back(SourceOf(r, engine_.config()));
    return out;
  }

 private:
  Engine& engine_;
};

}  // namespace

struct LogshipService::Impl {
  Engine* engine = nullptr;
  std::unique_ptr<EngineSources> sources;
  // Shared with the engine's before-remove hook: a removal in flight while
  // the service shuts down keeps it alive (Adopt after Stop does nothing).
  std::shared_ptr<logship::Shipper> shipper;
  std::atomic<bool> stop{false};
  std::thread events;
};

LogshipService::LogshipService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LogshipService::~LogshipService() {
  if (impl_->shipper) impl_->engine->SetBeforeRemoveHook(nullptr);
  impl_->stop = true;
  if (impl_->events.joinable()) impl_->events.join();
  if (impl_->shipper) impl_->shipper->Stop();
}

Result<std::unique_ptr<LogshipService>> LogshipService::Start(Engine& engine, const LogshipDaemonConfig& cfg,
                                                             const std::string& node_name) {
  auto impl = std::make_unique<Impl>();
  impl->engine = &engine;
  if (cfg.outputs.empty()) return std::unique_ptr<LogshipService>(new LogshipService(std::move(impl)));
  logship::ShipperConfig sc;
  sc.dir = engine.config().root + "/logship";
  sc.node = HostNameOr(node_name);
  sc.spool.budget_bytes = static_cast<uint64_t>(cfg.disk_budget);
  for (const auto& spec : cfg.outputs) sc.outputs.push_back(TRY(logship::ParseOutputSpec(spec)));
  impl->sources = std::make_unique<EngineSources>(engine);
  impl->shipper = TRY(logship::Shipper::Start(std::move(sc), *impl->sources));
  Impl* raw = impl.get();
  // A container removed before the next listing (moor run --rm of a short
  // job) would take its log with it: open it first.
  engine.SetBeforeRemoveHook([shipper = impl->shipper, &engine](const ContainerRecord& r) {
    shipper->Adopt(SourceOf(r, engine.config()));
  });
  // A new container's first lines should not wait for the next listing.
  impl->events = std::thread([raw] {
    uint64_t seq = raw->engine->events().LastSeq();
    while (!raw->stop) {
      uint64_t next = seq;
      auto evs = raw->engine->events().WaitAfter(seq, 200, &next);
      seq = next;
      for (const auto& e : evs) {
        if (e.type == "container" && (e.action == "create" || e.action == "start" || e.action == "destroy" ||
                                      e.action == "rename")) {
          raw->shipper->Refresh();
          break;
        }
      }
    }
  });
  log::Info("moor daemon: shipping container logs to " + std::to_string(cfg.outputs.size()) + " output(s)");
  return std::unique_ptr<LogshipService>(new LogshipService(std::move(impl)));
}

void LogshipService::AddRoutes(api::Router& router) {
  router.Handle("GET", "/v1/moor/logship", [this](const api::Request&, api::ResponseWriter& w) {
    if (!impl_->shipper) {
      return w.SendJson(200, nlohmann::json{{"enabled", false}, {"outputs", nlohmann::json::array()}}.dump());
    }
    auto st = impl_->shipper->Status();
    st["enabled"] = true;
    w.SendJson(200, st.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));  // a receiver's reply may cut UTF-8
  });
}

}  // namespace moor::engine
