#include "engine/discovery_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "discovery/agent.h"
#include "discovery/catalog.h"
#include "discovery/consul_api.h"
#include "discovery/discovery_metrics.h"
#include "discovery/dns_server.h"
#include "discovery/prometheus_sd.h"
#include "discovery/registrar.h"
#include "discovery/template_manager.h"
#include "engine/engine_internal.h"
#include "engine/fpm_metrics.h"

namespace moor::engine {

namespace d = moor::discovery;

namespace {

// The engine, as discovery sees it.
class EngineView : public d::ContainerOps, public d::ContainerLister {
 public:
  explicit EngineView(Engine& e) : e_(e) {}

  Result<d::ExecOutcome> Exec(const std::string& id, const std::vector<std::string>& argv,
                              int64_t timeout_ns) override {
    auto r = TRY(e_.ExecCapture(id, argv, timeout_ns));
    return d::ExecOutcome{r.exit_code, r.output, r.timed_out};
  }
  Result<std::string> ReadFile(const std::string& id, const std::string& path) override {
    return e_.ReadContainerFile(id, path);
  }
  Result<void> WriteFile(const std::string& id, const std::string& path, const std::string& content,
                         unsigned mode) override {
    return e_.WriteContainerFile(id, path, content, mode);
  }
  Result<void> Signal(const std::string& id, const std::string& signal) override { return e_.Signal(id, signal); }

  std::vector<d::ContainerInfo> List() override {
    std::vector<d::ContainerInfo> out;
    auto all = e_.All();
    if (!all) {
      log::Warn("discovery: list containers: " + all.error().message());
      return out;
    }
    for (const auto& r : *all) out.push_back(Info(r));
    return out;
  }
  std::optional<d::ContainerInfo> Get(const std::string& id) override {
    auto r = e_.Get(id);
    if (!r) return std::nullopt;
    return Info(*r);
  }

 private:
  d::ContainerInfo Info(const ContainerRecord& r) {
    d::ContainerInfo c;
    c.id = r.id;
    c.name = r.name;
    c.image_ref = r.image_ref;
    auto view = e_.ServiceViewOf(r);
    c.labels = view.image_labels;
    for (const auto& [k, v] : r.config.labels) c.labels[k] = v;  // the container's win
    c.ip = r.endpoint.ip;
    c.host_network = r.config.network_mode == "host";
    c.tcp_ports = view.tcp_ports;
    c.status = r.state.status;
    c.has_healthcheck = view.has_healthcheck;
    c.health = r.state.health.status;
    return c;
  }
  Engine& e_;
};

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "moor";
  return buf;
}

// A stable node id (UUID-shaped) kept under the daemon's root.
std::string NodeId(const std::string& root) {
  std::string path = root + "/discovery-node-id";
  if (auto text = ReadFile(path); text && text->size() >= 36) return std::string(Trim(*text));
  std::string h = RandomHex(32);
  std::string id = h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
                   h.substr(20, 12);
  (void)WriteFileAtomic(path, id + "\n");
  return id;
}

std::vector<std::string> HostResolvers() {
  std::vector<std::string> out;
  auto text = ReadFile("/etc/resolv.conf");
  if (!text) return out;
  for (const auto& line : Split(*text, '\n')) {
    auto t = std::string(Trim(line));
    if (!StartsWith(t, "nameserver")) continue;
    auto addr = std::string(Trim(t.substr(10)));
    if (!addr.empty() && addr.find(':') == std::string::npos) out.push_back(addr);  // IPv4 only for now
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> ParseListenList(const std::vector<std::string>& values, const std::string& flag) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    if (v == "none") return std::vector<std::string>{};
    auto colon = v.rfind(':');
    auto port = colon == std::string::npos ? std::nullopt : ParseInt(v.substr(colon + 1));
    if (!port || *port <= 0 || *port > 65535) {
      return FailInvalid(flag + " \"" + v + "\": expected IP:PORT, :PORT (the default bridge's gateway) or none");
    }
    out.push_back(v);
  }
  return out;
}

struct DiscoveryService::Impl {
  Engine& engine;
  DiscoveryConfig cfg;
  std::string gateway;
  std::unique_ptr<d::Catalog> catalog;
  std::unique_ptr<EngineView> view;
  std::unique_ptr<d::Agent> agent;
  std::unique_ptr<d::TemplateManager> templates;
  std::unique_ptr<d::Registrar> registrar;
  std::unique_ptr<d::DnsServer> dns;
  std::unique_ptr<FpmMetrics> fpm_metrics;
  api::Router consul_router;
  std::vector<std::unique_ptr<api::HttpServer>> consul_servers;
  std::vector<std::string> dns_addrs, consul_addrs;
  std::string container_resolver;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread events_thread, timer_thread;

  explicit Impl(Engine& e) : engine(e) {}

  std::string Resolve(const std::string& addr) const {
    return StartsWith(addr, ":") ? gateway + addr : addr;
  }

  void EventLoop(uint64_t seq) {
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      uint64_t next = seq;
      auto events = engine.events().WaitAfter(seq, 500, &next);
      seq = next;
      for (const auto& e : events) {
        if (e.type != "container") continue;
        const auto& a = e.action;
        if (a == "start" || a == "unpause" || a == "restart" || a == "rename" || StartsWith(a, "health_status")) {
          if (auto c = view->Get(e.id)) registrar->Up(*c);
        } else if (a == "die" || a == "pause" || a == "destroy" || a == "stop" || a == "oom") {
          registrar->Down(e.id);
        }
      }
    }
  }

  // Reaps checks critical past their deregister_critical_after every second;
  // reconciles with the live containers every reconcile_interval.
  void TimerLoop() {
    // Templates are held back until the first round of checks after the
    // start-up reconcile has reported (at most 5 s), off the daemon's
    // start-up path: the API serves meanwhile.
    {
      std::unique_lock lock(mu);
      for (int i = 0; i < 100 && !stopping && !agent->Pending().empty(); ++i) {
        cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping; });
      }
    }
    templates->SetReady(true);
    auto next_reconcile = std::chrono::steady_clock::now() + std::chrono::nanoseconds(cfg.reconcile_interval_ns);
    std::unique_lock lock(mu);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
      if (stopping) return;
      lock.unlock();
      if (std::chrono::steady_clock::now() >= next_reconcile) {
        registrar->Reconcile();
        next_reconcile = std::chrono::steady_clock::now() + std::chrono::nanoseconds(cfg.reconcile_interval_ns);
      }
      timespec ts{};
      clock_gettime(CLOCK_MONOTONIC, &ts);
      for (const auto& id : catalog->ReapCritical(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec)) {
        log::Info("discovery: deregistered " + id + ": critical longer than its deregister_critical_after");
      }
      lock.lock();
    }
  }
};

Result<std::unique_ptr<DiscoveryService>> DiscoveryService::Start(Engine& engine, DiscoveryConfig cfg) {
  auto s = std::unique_ptr<DiscoveryService>(new DiscoveryService());
  s->impl_ = std::make_unique<Impl>(engine);
  auto& m = *s->impl_;
  m.cfg = cfg;
  auto bridge = TRY_CTX(engine.networks().Get("bridge"), "discovery: default network");
  m.gateway = bridge.gateway;

  d::Node node;
  node.name = cfg.node_name.empty() ? HostName() : cfg.node_name;
  node.id = NodeId(engine.config().root);
  node.address = m.gateway;
  m.catalog = std::make_unique<d::Catalog>(node);
  TRY_CTX(m.catalog->AttachStore(engine.config().root + "/discovery.db"), "discovery: state");
  m.view = std::make_unique<EngineView>(engine);
  m.agent = std::make_unique<d::Agent>(*m.catalog, m.view.get());
  m.templates = std::make_unique<d::TemplateManager>(*m.catalog, m.view.get());
  m.registrar = std::make_unique<d::Registrar>(*m.agent, m.templates.get(), *m.view, m.gateway);

  // The catalog is rebuilt from what runs; templates wait for it, so a
  // daemon restart never renders an empty upstream list.
  // Events from here on are followed; the reconcile covers what came before.
  uint64_t first_seq = engine.events().LastSeq();
  m.templates->SetReady(false);
  m.registrar->Reconcile();

  engine.SetBeforeDownHook([r = m.registrar.get()](const std::string& id, bool drain) { r->BeforeStop(id, drain); });
  m.events_thread = std::thread([&m, first_seq] { m.EventLoop(first_seq); });
  m.timer_thread = std::thread([&m] { m.TimerLoop(); });

  for (const auto& a : cfg.dns_listen) m.dns_addrs.push_back(m.Resolve(a));
  for (const auto& a : cfg.consul_listen) m.consul_addrs.push_back(m.Resolve(a));
  // Listeners on the gateway are bound with IP_FREEBIND; the bridge that
  // carries the address is made now, so containers on other networks (an
  // app's own) reach them before any container uses the default network.
  for (const auto* addrs : {&m.dns_addrs, &m.consul_addrs}) {
    for (const auto& a : *addrs) {
      if (StartsWith(a, m.gateway + ":")) {
        TRY_CTX(engine.networks().EnsureBridge("bridge"), "discovery: default bridge");
        break;
      }
    }
  }
  if (!m.dns_addrs.empty()) {
    d::DnsOptions o;
    o.listen = m.dns_addrs;
    o.domain = cfg.domain;
    o.upstreams = cfg.dns_upstreams.empty() ? HostResolvers() : cfg.dns_upstreams;
    o.service_ttl = cfg.dns_ttl;
    o.container_ttl = cfg.dns_ttl;
    m.dns = std::make_unique<d::DnsServer>(*m.catalog, o);
    TRY_CTX(m.dns->Start(), "discovery DNS (change it with --dns-addr, or --dns-addr none)");
    // Containers can use it only when it listens on the bridge's gateway.
    for (const auto& a : m.dns_addrs) {
      if (a == m.gateway + ":53") m.container_resolver = m.gateway;
    }
  }
  engine.SetContainerResolver(m.container_resolver);
  // Metrics: PHP-FPM pools scraped through the container list, and the
  // catalog's passing/critical instances for moor_service_instances (the
  // engine's collector writes the family), labelled like the containers.
  m.fpm_metrics = std::make_unique<FpmMetrics>(*m.view);
  d::SetServiceHealthSource([&m] {
    std::map<std::string, std::pair<std::string, std::string>> by_container;
    for (const auto& c : m.view->List()) {
      auto label = [&](const char* k) {
        auto it = c.labels.find(k);
        return it == c.labels.end() ? std::string() : it->second;
      };
      std::string svc = label("moor.app.service");
      by_container[c.id] = {label("moor.app"), svc.empty() ? label("moor.service") : svc};
    }
    return d::CountServiceHealth(*m.catalog, [&](const d::ServiceInstance& in) {
      auto it = by_container.find(in.container_id);
      // External services, and containers without those labels: the catalog's name.
      if (it == by_container.end() || it->second.second.empty()) return std::make_pair(std::string(), in.name);
      return it->second;
    });
  });
  d::AddConsulRoutes(m.consul_router, *m.agent);
  d::AddPrometheusSdRoute(m.consul_router, *m.catalog);
  for (const auto& a : m.consul_addrs) {
    auto fd = api::ListenTcp(a);
    if (!fd) return Fail(Error(fd.error().errnum(), "discovery API on " + a + ": " + fd.error().message() +
                                                      " (change it with --consul-addr, or --consul-addr none)"));
    auto srv = std::make_unique<api::HttpServer>(std::move(*fd), m.consul_router);
    srv->Start();
    m.consul_servers.push_back(std::move(srv));
  }
  std::string dns_text = m.dns_addrs.empty() ? "off" : Join(m.dns_addrs, ",");
  std::string api_text = m.consul_addrs.empty() ? "off" : Join(m.consul_addrs, ",");
  log::Info("discovery: DNS " + dns_text + ", Consul API " + api_text + " and the daemon socket; node " + node.name);
  return s;
}

DiscoveryService::~DiscoveryService() {
  if (!impl_) return;
  auto& m = *impl_;
  m.engine.SetBeforeDownHook(nullptr);
  m.engine.SetContainerResolver("");
  d::SetServiceHealthSource(nullptr);  // waits for a scrape reading it
  m.fpm_metrics.reset();
  {
    std::lock_guard lock(m.mu);
    m.stopping = true;
  }
  m.cv.notify_all();
  if (m.events_thread.joinable()) m.events_thread.join();
  if (m.timer_thread.joinable()) m.timer_thread.join();
  for (auto& s : m.consul_servers) s->Stop();
  if (m.dns) m.dns->Stop();
  m.registrar.reset();
  m.templates.reset();
  m.agent.reset();
}

void DiscoveryService::AddRoutes(api::Router& router) {
  d::AddConsulRoutes(router, *impl_->agent);
  d::AddPrometheusSdRoute(router, *impl_->catalog);
  // Whether a container's instances are in the catalog: what `moor up` waits
  // for before it lets traffic go (docs/api.md).
  router.Handle("GET", "/v1/moor/registration/{id}", [this](const api::Request& req, api::ResponseWriter& w) {
    auto view = Registration(req.Param("id"));
    if (!view) return w.SendError(view.error().errnum() == ENOENT ? 404 : 500, view.error().message());
    nlohmann::json instances = nlohmann::json::array();
    for (const auto& in : view->instances) {
      instances.push_back({{"ID", in.id}, {"Service", in.service}, {"Status", in.status}, {"Output", in.output}});
    }
    nlohmann::json templates = nlohmann::json::array();
    for (const auto& t : view->templates) {
      templates.push_back({{"Destination", t.destination}, {"Rendered", t.rendered}, {"Error", t.error}});
    }
    w.SendJson(
        200, nlohmann::json{{"Container", view->container}, {"Instances", instances}, {"Templates", templates}}.dump());
  });
  // Renders a created container's templates into it before its start
  // (`moor up` calls it between create and start).
  router.Handle("POST", "/v1/moor/render/{id}", [this](const api::Request& req, api::ResponseWriter& w) {
    auto& m = *impl_;
    auto c = m.view->Get(req.Param("id"));
    if (!c) return w.SendError(404, "no such container: " + req.Param("id"));
    auto plan = d::PlanFor(*c, m.gateway);
    int n = 0;
    for (const auto& t : plan.templates) {
      if (auto r = m.templates->RenderInto(t); !r) {
        return w.SendError(500, "container " + c->name + ": template " + t.dest_path + ": " + r.error().message());
      }
      ++n;
    }
    w.SendJson(200, nlohmann::json{{"Rendered", n}}.dump());
  });
  router.Handle("GET", "/discovery/info", [this](const api::Request&, api::ResponseWriter& w) {
    auto& m = *impl_;
    nlohmann::json j = {{"DnsAddresses", m.dns_addrs},
                        {"ConsulAddresses", m.consul_addrs},
                        {"Domain", m.cfg.domain},
                        {"Node", m.catalog->node().name},
                        {"ContainerResolver", m.container_resolver}};
    w.SendJson(200, j.dump());
  });
}

std::string DiscoveryService::ContainerResolver() const { return impl_->container_resolver; }

Result<RegistrationView> DiscoveryService::Registration(const std::string& id) const {
  auto& m = *impl_;
  auto c = m.view->Get(id);
  if (!c) return Fail(Error(ENOENT, "no such container: " + id));
  auto plan = d::PlanFor(*c, m.gateway);
  auto pending = m.agent->Pending();
  RegistrationView out;
  out.container = c->name;
  for (const auto& inst : plan.instances) {
    RegistrationView::Instance vi{inst.service.id, inst.service.name, "absent", ""};
    if (auto in = m.catalog->Instance(inst.service.id)) {
      // Ungated: a release not yet live is hidden from traffic, not from readiness.
      for (const auto& h : m.catalog->Health(in->name, "", false, /*gated=*/false)) {
        if (h.service.id != inst.service.id) continue;
        vi.status = std::string(d::HealthName(h.health));
        for (const auto& chk : h.checks) {
          if (chk.status != d::Health::kPassing) vi.output = chk.output;
        }
      }
    } else if (std::find(pending.begin(), pending.end(), inst.service.id) != pending.end()) {
      vi.status = "pending";
    }
    out.instances.push_back(std::move(vi));
  }
  for (const auto& t : plan.templates) {
    auto st = m.templates->stats(t.id);
    out.templates.push_back(
        {t.dest_path, st && st->renders > 0,
         st ? st->last_error : std::string("not loaded: its source could not be read (see the daemon log)")});
  }
  return out;
}

Result<uint64_t> DiscoveryService::SetReleaseGate(const std::string& service, const std::string& release) {
  return impl_->catalog->SetReleaseGate(service, release);
}

bool DiscoveryService::WaitTemplates(const std::string& service, uint64_t index, int64_t timeout_ns) {
  return impl_->templates->WaitRendered(service, index, timeout_ns);
}

}  // namespace moor::engine
