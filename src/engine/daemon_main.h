// `moor daemon`: parses its flags, opens the engine, serves the API on the
// unix socket until SIGTERM/SIGINT. Containers keep running after it exits.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "common/error.h"

namespace moor::engine {

class Engine;
class DiscoveryService;

// The deploy service's settings (--deploy-*; docs/deploy.md).
struct DeployDaemonConfig {
  std::string addr;       // --deploy-addr IP:PORT of the remote TLS endpoint ("" = none)
  std::string tls_cert;   // --deploy-tls-cert PEM
  std::string tls_key;    // --deploy-tls-key PEM
  std::string client_ca;  // --deploy-client-ca PEM: client certificates required
  int keep = 5;           // --deploy-keep: releases kept per service besides the live one
};

// Log shipping (--log-output, --log-disk-budget; docs/logs.md).
struct LogshipDaemonConfig {
  std::vector<std::string> outputs;  // --log-output specs, as given
  int64_t disk_budget = 1ll << 30;   // --log-disk-budget
};

// What an extension of the daemon gets (the deploy service lives in a
// module above the engine: it drives containers through the daemon's API).
struct DaemonContext {
  Engine& engine;
  DiscoveryService* discovery;  // null when discovery is off
  api::Router& router;          // the socket's routes (add before serving)
  std::string socket;           // the API socket's path
  std::string root;             // --root
  DeployDaemonConfig deploy;
};

class DaemonExtension {
 public:
  virtual ~DaemonExtension() = default;
  // The API is served (called on the main thread before waiting for a signal).
  virtual void Serving() {}
  // Before the API server stops.
  virtual void Stopping() {}
};

using DaemonExtensionFactory = std::function<Result<std::unique_ptr<DaemonExtension>>(DaemonContext&)>;

// args: the words after "daemon". Returns the process exit code.
int DaemonMain(const std::vector<std::string>& args, const DaemonExtensionFactory& extension = nullptr);

}  // namespace moor::engine
