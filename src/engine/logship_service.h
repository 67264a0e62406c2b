// Log shipping inside the daemon: the engine as the shipper's SourceLister,
// an event thread that re-lists on container create/start/destroy, and
// GET /v1/moor/logship. Off (nothing started) without --log-output.
#pragma once

#include <memory>
#include <string>

#include "api/http_server.h"
#include "common/error.h"
#include "engine/daemon_main.h"

namespace moor::engine {

class Engine;

class LogshipService {
 public:
  // node_name "" = the host name.
  static Result<std::unique_ptr<LogshipService>> Start(Engine& engine, const LogshipDaemonConfig& cfg,
                                                       const std::string& node_name);
  ~LogshipService();
  void AddRoutes(api::Router& router);

  struct Impl;

 private:
  explicit LogshipService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::engine
