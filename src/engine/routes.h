// The daemon's HTTP API (docs/api.md) on top of the engine.
#pragma once

#include "api/http_server.h"
#include "engine/engine.h"

namespace moor::engine {

void RegisterContainerRoutes(api::Router& router, Engine& engine);
void RegisterObjectRoutes(api::Router& router, Engine& engine);  // system, images, networks, volumes, events

// Sends an engine error as Docker does: status from the errno, {"message"}
// (plus "exit_code" when the error carries one, for `moor run`).
void SendEngineError(api::ResponseWriter& w, const Error& e);

// Copies bytes both ways between two connections until both directions end.
void Pump(int a, int b, std::string a_pending = {});

}  // namespace moor::engine
