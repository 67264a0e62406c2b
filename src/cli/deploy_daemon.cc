#include "cli/deploy_daemon.h"

#include "api/tls_listener.h"
#include "cli/context.h"
#include "cli/daemon_app_backend.h"
#include "cli/daemon_client.h"
#include "common/log.h"
#include "deploy/deploy_service.h"
#include "engine/discovery_service.h"

namespace moor::cli {

namespace {

// The catalog's release gate, in process.
class DiscoveryGate : public deploy::ReleaseGate {
 public:
  explicit DiscoveryGate(engine::DiscoveryService& d) : d_(d) {}
  Result<uint64_t> SetLive(const std::string& service, const std::string& release) override {
    return d_.SetReleaseGate(service, release);
  }
  bool WaitRendered(const std::string& service, uint64_t index, int64_t timeout_ns) override {
    return d_.WaitTemplates(service, index, timeout_ns);
  }

 private:
  engine::DiscoveryService& d_;
};

// A DaemonAppBackend with the connection it uses.
class OwnedBackend : public DaemonAppBackend {
 public:
  OwnedBackend(std::unique_ptr<Globals> g, std::unique_ptr<Daemon> d)
      : DaemonAppBackend(*d, *g, /*quiet=*/true), g_(std::move(g)), d_(std::move(d)) {}

 private:
  std::unique_ptr<Globals> g_;
  std::unique_ptr<Daemon> d_;
};

class DeployDaemon : public engine::DaemonExtension {
 public:
  DeployDaemon(std::unique_ptr<DiscoveryGate> gate, std::unique_ptr<deploy::DeployService> svc)
      : gate_(std::move(gate)), svc_(std::move(svc)) {}
  ~DeployDaemon() override { Stopping(); }

  // The remote endpoint: TLS on `addr`, only the R routes, each behind a token or client certificate.
  Result<void> ListenRemote(const engine::DeployDaemonConfig& c) {
    svc_->AddRemoteRoutes(remote_router_);
    auto fd = TRY_CTX(api::ListenTcp(c.addr), "--deploy-addr " + c.addr);
    remote_server_ = std::make_unique<api::HttpServer>(remote_router_);
    api::TlsOptions o;
    o.cert = c.tls_cert;
    o.key = c.tls_key;
    o.client_ca = c.client_ca;
    tls_ = TRY(api::TlsListener::Create(std::move(fd), o, *remote_server_));
    addr_ = c.addr;
    return {};
  }

  void Serving() override {
    svc_->Recover();
    if (tls_) {
      tls_->Start();
      log::Info("moor daemon: deploys over TLS on " + addr_);
    }
  }
  void Stopping() override {
    if (tls_) tls_->Stop();
    if (remote_server_) remote_server_->Stop();
  }

 private:
  std::unique_ptr<DiscoveryGate> gate_;
  std::unique_ptr<deploy::DeployService> svc_;
  api::Router remote_router_;
  std::unique_ptr<api::HttpServer> remote_server_;
  std::unique_ptr<api::TlsListener> tls_;
  std::string addr_;
};

}  // namespace

engine::DaemonExtensionFactory DeployExtension() {
  return [](engine::DaemonContext& ctx) -> Result<std::unique_ptr<engine::DaemonExtension>> {
    std::unique_ptr<DiscoveryGate> gate;
    if (ctx.discovery) gate = std::make_unique<DiscoveryGate>(*ctx.discovery);
    deploy::DeployOptions o;
    o.root = ctx.root + "/deploy";
    o.keep = ctx.deploy.keep;
    std::string socket = ctx.socket, root = ctx.root;
    deploy::BackendFactory backends = [socket, root]() -> Result<std::unique_ptr<app::AppBackend>> {
      auto g = std::make_unique<Globals>();
      g->root = root;
      g->host = "unix://" + socket;
      auto d = TRY(Daemon::Connect(*g));
      return std::unique_ptr<app::AppBackend>(
          std::make_unique<OwnedBackend>(std::move(g), std::make_unique<Daemon>(std::move(d))));
    };
    auto svc = TRY_CTX(deploy::DeployService::Open(o, backends, gate.get()), "deploy service");
    svc->AddRoutes(ctx.router);
    auto d = std::make_unique<DeployDaemon>(std::move(gate), std::move(svc));
    if (!ctx.deploy.addr.empty()) TRY(d->ListenRemote(ctx.deploy));
    return std::unique_ptr<engine::DaemonExtension>(std::move(d));
  };
}

}  // namespace moor::cli
