#include "engine/daemon_main.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/daemon_config_file.h"
#include "engine/discovery_service.h"
#include "engine/engine.h"
#include "engine/engine_metrics.h"
#include "engine/logship_service.h"
#include "engine/routes.h"
#include "logship/shipper.h"
#include "runtime_cli/args.h"

namespace moor::engine {

namespace {

constexpr const char* kUsage = R"(usage: moor daemon [flags]

Runs moor's engine: keeps container state, starts a monitor per container and
serves the API (docs/api.md) on a unix socket. Containers outlive the daemon.

  --root DIR             state, images, containers, volumes (default /var/lib/moor)
  --exec-root DIR        sockets, monitors, network namespaces (default /run/moor)
  -H, --host PATH        API socket (default EXEC-ROOT/moor.sock; unix:// prefix allowed)
  --config-file FILE     JSON file of these flags without dashes, like {"log-output": [...]}
                         (default /etc/moor/daemon.json if present; docs/engine.md)
  --default-runtime NAME moor (default), runc, crun, or one added with --add-runtime
  --add-runtime NAME=PATH  another OCI runtime
  --bip SUBNET           default bridge network subnet (default 10.89.0.0/16)
  --bridge NAME          default bridge interface (default moor0)
  --mtu N                MTU of container interfaces (default 1500)
  --no-masquerade        no nftables masquerade for outbound container traffic
  --log-max-size SIZE    container log size before rotation (default 20m)
  --log-max-files N      rotated log files kept per container (default 5)
  --dns-addr IP:PORT     discovery DNS server, UDP and TCP; repeatable; ":PORT" = the default
                         bridge's gateway (default :53); none = no DNS server
  --dns-upstream IP[:PORT]  where other names are forwarded; repeatable (default: the
                         nameservers of /etc/resolv.conf)
  --dns-domain NAME      discovery DNS domain (default moor: NAME.service.moor)
  --dns-ttl SECONDS      TTL of discovery answers (default 0)
  --consul-addr IP:PORT  Consul-compatible HTTP API on TCP; repeatable; ":PORT" = the default
                         bridge's gateway (default :8500); none = only on the daemon's socket
  --node-name NAME       discovery node name, and the node label of shipped logs
                         (default: the host name)
  --log-output [NAME=]TYPE://ADDRESS[?OPT=V&...]  ship every container's logs there;
                         repeatable. TYPE: logstash, gelf-udp, gelf-tcp, syslog-tcp,
                         syslog-udp, loki, file (docs/logs.md)
  --log-disk-budget SIZE disk the log spool may use while receivers lag (default 1g)
  --deploy-addr IP:PORT  remote deploy endpoint (TLS; needs --deploy-tls-cert/--deploy-tls-key)
  --deploy-tls-cert FILE --deploy-tls-key FILE  its certificate and key (PEM)
  --deploy-client-ca FILE  require client certificates signed by this CA (else tokens)
  --deploy-keep N        releases kept per service besides the live one (default 5)
  --metrics-addr IP:PORT serve Prometheus metrics (GET /metrics) on TCP too; always on the socket
  -D, --debug            debug logging
)";

Result<EngineConfig> FromFlags(const runtime_cli::ParsedArgs& a, DiscoveryConfig* disc, DeployDaemonConfig* deploy,
                               LogshipDaemonConfig* logs);

Result<EngineConfig> ParseDaemonArgs(const std::vector<std::string>& args, bool* help, bool* debug,
                                     DiscoveryConfig* disc, DeployDaemonConfig* deploy, LogshipDaemonConfig* logs) {
  using runtime_cli::FlagSpec;
  const std::vector<FlagSpec> specs = {{"root", "", true},          {"data-root", "", true},
                                       {"exec-root", "", true},     {"host", "H", true},
                                       {"config-file", "", true},   {"default-runtime", "", true},
                                       {"add-runtime", "", true, true}, {"bip", "", true},
                                       {"bridge", "", true},        {"mtu", "", true},
                                       {"no-masquerade", "", false}, {"log-max-size", "", true},
                                       {"log-max-files", "", true}, {"debug", "D", false},
                                       {"dns-addr", "", true, true}, {"dns-upstream", "", true, true},
                                       {"dns-domain", "", true},    {"dns-ttl", "", true},
                                       {"consul-addr", "", true, true}, {"node-name", "", true},
                                       {"log-output", "", true, true}, {"log-disk-budget", "", true},
                                       {"deploy-addr", "", true},   {"deploy-tls-cert", "", true},
                                       {"deploy-tls-key", "", true}, {"deploy-client-ca", "", true},
                                       {"deploy-keep", "", true},   {"metrics-addr", "", true},   {"help", "h", false}};
  auto a = TRY(runtime_cli::ParseArgs(args, 0, specs, false));
  *help = a.Bool("help");
  // The config file's settings are flags too: parsed first, the command line
  // after them (a setting in both places is refused).
  std::string file = a.Get("config-file");
  if (file.empty() && access("/etc/moor/daemon.json", F_OK) == 0) file = "/etc/moor/daemon.json";
  std::string text;
  if (!file.empty() && !*help) {
    auto read = ReadFile(file);
    if (!read) return Fail(std::move(read.error()).Wrap("config file"));
    text = std::move(*read);
    auto flags = TRY(ConfigFileFlags(file, text, specs, a));
    flags.insert(flags.end(), args.begin(), args.end());
    a = TRY(runtime_cli::ParseArgs(flags, 0, specs, false));
  }
  *debug = a.Bool("debug");
  auto cfg = FromFlags(a, disc, deploy, logs);
  if (!cfg && !file.empty()) {
    // A bad value that came from the file (a setting is never in both places):
    // name the file too.
    auto flags = ConfigFileFlags(file, text, specs, runtime_cli::ParsedArgs{});
    const std::string& m = cfg.error().message();
    for (const auto& f : flags ? *flags : std::vector<std::string>{}) {
      if (f.starts_with("--") && m.starts_with(f + " ")) return Fail(std::move(cfg.error()).Wrap(file));
    }
  }
  return cfg;
}

// The daemon's settings from its parsed flags (config file merged in).
Result<EngineConfig> FromFlags(const runtime_cli::ParsedArgs& a, DiscoveryConfig* disc, DeployDaemonConfig* deploy,
                               LogshipDaemonConfig* logs) {
  EngineConfig cfg;
  if (!a.positional.empty()) return FailInvalid("moor daemon takes no arguments, got \"" + a.positional[0] + "\"");
  if (a.Has("root")) cfg.root = a.Get("root");
  if (a.Has("data-root")) cfg.root = a.Get("data-root");
  if (a.Has("exec-root")) cfg.run_root = a.Get("exec-root");
  if (a.Has("host")) {
    cfg.socket = a.Get("host");
    if (StartsWith(cfg.socket, "unix://")) cfg.socket = cfg.socket.substr(7);
  }
  if (cfg.run_root.size() > EngineConfig::kMaxRunRootLength) {
    return FailInvalid("--exec-root \"" + cfg.run_root + "\" is longer than " +
                       std::to_string(EngineConfig::kMaxRunRootLength) +
                       " characters: unix socket paths under it would not fit; choose a shorter one");
  }
  if (a.Has("default-runtime")) cfg.default_runtime = a.Get("default-runtime");
  for (const auto& r : a.All("add-runtime")) {
    auto eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || r[eq + 1] != '/') {
      return FailInvalid("--add-runtime \"" + r + "\": expected NAME=/absolute/path");
    }
    cfg.runtimes[r.substr(0, eq)] = r.substr(eq + 1);
  }
  if (a.Has("bip")) cfg.default_subnet = a.Get("bip");
  if (a.Has("bridge")) cfg.bridge = a.Get("bridge");
  if (cfg.bridge.rfind("moor", 0) != 0 || cfg.bridge.size() > 15) {
    // Isolation between networks matches moor's bridges by that prefix.
    return FailInvalid("--bridge \"" + cfg.bridge + "\": the name must start with \"moor\" and fit in 15 characters");
  }
  if (a.Has("mtu")) {
    auto m = ParseInt(a.Get("mtu"));
    if (!m || *m < 576 || *m > 65535) return FailInvalid("--mtu must be between 576 and 65535");
    cfg.mtu = static_cast<int>(*m);
  }
  if (a.Bool("no-masquerade")) cfg.masquerade = false;
  if (a.Has("log-max-size")) {
    auto s = ParseByteSize(a.Get("log-max-size"));
    if (!s || *s < 4096) return FailInvalid("--log-max-size must be a size of at least 4k, like 20m");
    cfg.log_max_size = *s;
  }
  if (a.Has("log-max-files")) {
    auto n = ParseInt(a.Get("log-max-files"));
    if (!n || *n < 1 || *n > 100) return FailInvalid("--log-max-files must be between 1 and 100");
    cfg.log_max_files = static_cast<int>(*n);
  }
  deploy->addr = a.Get("deploy-addr");
  deploy->tls_cert = a.Get("deploy-tls-cert");
  deploy->tls_key = a.Get("deploy-tls-key");
  deploy->client_ca = a.Get("deploy-client-ca");
  if (!deploy->addr.empty() && (deploy->tls_cert.empty() || deploy->tls_key.empty()))
    return FailInvalid("--deploy-addr needs --deploy-tls-cert and --deploy-tls-key (the endpoint is TLS only)");
  if (a.Has("deploy-keep")) {
    auto n = ParseInt(a.Get("deploy-keep"));
    if (!n || *n < 0 || *n > 1000) return FailInvalid("--deploy-keep must be a number of releases between 0 and 1000");
    deploy->keep = static_cast<int>(*n);
  }
  if (a.Has("metrics-addr")) {
    cfg.metrics_addr = a.Get("metrics-addr");
    TRY(ValidateMetricsAddr(cfg.metrics_addr));
  }
  if (a.Has("dns-addr")) disc->dns_listen = TRY(ParseListenList(a.All("dns-addr"), "--dns-addr"));
  if (a.Has("consul-addr")) disc->consul_listen = TRY(ParseListenList(a.All("consul-addr"), "--consul-addr"));
  for (const auto& u : a.All("dns-upstream")) {
    auto colon = u.find(':');
    auto port = colon == std::string::npos ? std::optional<int64_t>(53) : ParseInt(u.substr(colon + 1));
    if (u.empty() || !port || *port <= 0 || *port > 65535) {
      return FailInvalid("--dns-upstream \"" + u + "\": expected IP or IP:PORT");
    }
    disc->dns_upstreams.push_back(u);
  }
  if (a.Has("dns-domain")) {
    disc->domain = a.Get("dns-domain");
    if (disc->domain.empty() || disc->domain.find_first_of(" ./") != std::string::npos) {
      return FailInvalid("--dns-domain \"" + disc->domain + "\": expected one DNS label like moor");
    }
  }
  if (a.Has("dns-ttl")) {
    auto t = ParseInt(a.Get("dns-ttl"));
    if (!t || *t < 0 || *t > 86400) return FailInvalid("--dns-ttl must be seconds between 0 and 86400");
    disc->dns_ttl = static_cast<uint32_t>(*t);
  }
  if (a.Has("node-name")) disc->node_name = a.Get("node-name");
  if (a.Has("log-output")) {
    for (const auto& spec : a.All("log-output")) {
      TRY(logship::ParseOutputSpec(spec));  // refused before anything starts
      logs->outputs.push_back(spec);
    }
  }
  if (a.Has("log-disk-budget")) {
    auto s = ParseByteSize(a.Get("log-disk-budget"));
    if (!s || *s < (1 << 20)) return FailInvalid("--log-disk-budget must be a size of at least 1m, like 512m");
    logs->disk_budget = *s;
  }
  return cfg;
}

}  // namespace

int DaemonMain(const std::vector<std::string>& args, const DaemonExtensionFactory& extension) {
  bool help = false, debug = false;
  DiscoveryConfig disc;
  DeployDaemonConfig deploy;
  LogshipDaemonConfig logs;
  auto cfg = ParseDaemonArgs(args, &help, &debug, &disc, &deploy, &logs);
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  if (!cfg) {
    std::cerr << "moor daemon: " << cfg.error().message() << "\n";
    return 125;
  }
  if (geteuid() != 0) {
    std::cerr << "moor daemon: must run as root (it mounts, makes namespaces and network interfaces)\n";
    return 1;
  }
  log::Options lo;
  lo.debug = debug;
  log::Init(lo);
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // every thread inherits this; sigwait below

  auto engine = Engine::Open(*cfg);
  if (!engine) {
    std::cerr << "moor daemon: " << engine.error().message() << "\n";
    return 1;
  }
  auto discovery = DiscoveryService::Start(**engine, disc);
  if (!discovery) {
    std::cerr << "moor daemon: " << discovery.error().message() << "\n";
    return 1;
  }
  auto shipper = LogshipService::Start(**engine, logs, disc.node_name);
  if (!shipper) {
    std::cerr << "moor daemon: " << shipper.error().message() << "\n";
    return 1;
  }
  api::Router router;
  router.SetObserver(ObserveApiRequest);
  RegisterMetricsRoute(router);
  EngineMetrics engine_metrics(**engine);
  RegisterContainerRoutes(router, **engine);
  (*shipper)->AddRoutes(router);
  RegisterObjectRoutes(router, **engine);
  (*discovery)->AddRoutes(router);
  std::unique_ptr<DaemonExtension> ext;
  if (extension) {
    DaemonContext ctx{**engine, discovery->get(), router, cfg->Socket(), cfg->root, deploy};
    auto e = extension(ctx);
    if (!e) {
      std::cerr << "moor daemon: " << e.error().message() << "\n";
      return 1;
    }
    ext = std::move(*e);
  }
  auto listen = api::ListenUnix(cfg->Socket(), 0600);
  if (!listen) {
    std::cerr << "moor daemon: " << listen.error().message() << "\n";
    return 1;
  }
  // --metrics-addr: a router with GET /metrics only, so nothing else of the API is on TCP.
  api::Router metrics_router;
  RegisterMetricsRoute(metrics_router);
  std::unique_ptr<api::HttpServer> metrics_server;
  if (!cfg->metrics_addr.empty()) {
    auto fd = api::ListenTcp(cfg->metrics_addr);
    if (!fd) {
      std::cerr << "moor daemon: --metrics-addr " << cfg->metrics_addr << ": " << fd.error().message() << "\n";
      return 1;
    }
    metrics_server = std::make_unique<api::HttpServer>(std::move(*fd), metrics_router);
    metrics_server->Start();
    log::Info("moor daemon: metrics on http://" + cfg->metrics_addr + "/metrics");
  }
  api::HttpServer server(std::move(*listen), router);
  server.Start();
  log::Info("moor daemon: serving on " + cfg->Socket());
  if (ext) ext->Serving();
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("moor daemon: stopping (containers keep running)");
  if (ext) ext->Stopping();
  server.Stop();
  if (metrics_server) metrics_server->Stop();
  ext.reset();
  shipper->reset();
  discovery->reset();
  unlink(cfg->Socket().c_str());
  return 0;
}

}  // namespace moor::engine
