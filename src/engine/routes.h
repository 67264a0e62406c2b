// The daemon's HTTP API (docs/api.md) on top of the engine.
#pragma once

#include <map>
#include <string>

#include "api/http_server.h"
#include "engine/engine.h"

namespace moor::engine {

void RegisterContainerRoutes(api::Router& router, Engine& engine);
void RegisterObjectRoutes(api::Router& router, Engine& engine);  // system, images, networks, volumes, events

// Sends an engine error as Docker does: status from the errno, {"message"}
// (plus "exit_code" when the error carries one, for `moor run`).
void SendEngineError(api::ResponseWriter& w, const Error& e);

// Docker's ?filters={"key":["v",…]} (or {"key":{"v":true}}) as key → value pairs;
// false when the parameter is not valid JSON.
bool ParseFilters(const api::Request& req, std::multimap<std::string, std::string>* out);

// ROUTE_TRY(w, expr): the value of a Result, or the engine error sent and the
// handler returned.
#define ROUTE_TRY(w, expr)                      \
  ({                                            \
    auto&& route_r_ = (expr);                   \
    if (!route_r_) {                            \
      ::moor::engine::SendEngineError(w, route_r_.error()); \
      return;                                   \
    }                                           \
    ::moor::detail::TakeValue(std::move(route_r_)); \
  })

// Copies bytes both ways between two connections until both directions end.
void Pump(int a, int b, std::string a_pending = {});

}  // namespace moor::engine
