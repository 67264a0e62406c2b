#include "discovery/consul_api.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "common/strings.h"
#include "discovery/consul_json.h"

namespace moor::discovery {

using api::Request;
using api::ResponseWriter;
using nlohmann::json;

namespace {

constexpr int64_t kDefaultWaitNs = 5LL * 60 * 1'000'000'000;
constexpr int64_t kMaxWaitNs = 10LL * 60 * 1'000'000'000;
constexpr size_t kMaxKvValue = 512 * 1024;

// Consul answers errors as one line of plain text (its Go client shows the
// body verbatim), not Docker's {"message"}.
void SendText(ResponseWriter& w, int status, std::string body) {
  api::Response r;
  r.status = status;
  r.headers["content-type"] = "text/plain; charset=utf-8";
  r.body = std::move(body);
  w.Send(std::move(r));
}

std::string Quote(const std::string& s) { return JsonQuote(s); }

// The headers of every catalog/health/kv answer: one node, always its own
// leader, never stale.
api::Headers ConsulHeaders(uint64_t index) {
  return {{"x-consul-index", std::to_string(std::max<uint64_t>(index, 1))},
          {"x-consul-knownleader", "true"},
          {"x-consul-lastcontact", "0"}};
}

void SendJsonBody(const Request& req, ResponseWriter& w, int status, const json& body, api::Headers headers = {}) {
  api::Response r;
  r.status = status;
  r.headers = std::move(headers);
  r.headers["content-type"] = "application/json";
  r.body = req.Query("pretty") ? body.dump(4) : body.dump();
  w.Send(std::move(r));
}

// A blocking query's ?index / ?wait.
struct BlockingArgs {
  uint64_t index = 0;  // 0 = answer at once
  int64_t wait_ns = kDefaultWaitNs;
};

// Parses ?index and ?wait; on bad input answers 400 as Consul does and
// returns nullopt.
std::optional<BlockingArgs> ParseBlocking(const Request& req, ResponseWriter& w) {
  BlockingArgs a;
  if (auto wait = req.Query("wait")) {
    auto ns = ParseDurationNs(*wait);
    if (!ns) {
      SendText(w, 400, "Invalid wait time");
      return std::nullopt;
    }
    a.wait_ns = std::min(*ns, kMaxWaitNs);
  }
  if (auto index = req.Query("index")) {
    auto n = ParseUint(*index);
    if (!n) {
      SendText(w, 400, "Invalid index");
      return std::nullopt;
    }
    a.index = *n;
  }
  return a;
}

// Waits as a blocking query: until current() passes args.index, the wait
// (plus up to wait/16 of jitter, so many watchers do not return in step)
// ends, or the client goes away. Returns the index to report.
uint64_t Block(const Catalog& cat, ResponseWriter& w, const BlockingArgs& args,
               const std::function<uint64_t()>& current) {
  if (args.index == 0) return std::max<uint64_t>(current(), 1);
  int64_t wait = args.wait_ns;
  if (wait > 16) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    wait += static_cast<int64_t>(rng() % static_cast<uint64_t>(wait / 16));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait);
  return std::max<uint64_t>(cat.WaitFor(current, args.index, deadline, [&] { return w.ClientGone(); }), 1);
}

// Checks what every endpoint shares: ?dc must be ours and ?filter is not
// implemented. Answers and returns false otherwise.
bool CommonArgsOk(const Request& req, ResponseWriter& w, const Node& node) {
  if (auto dc = req.Query("dc"); dc && !dc->empty() && *dc != node.datacenter) {
    SendText(w, 500, "No path to datacenter");
    return false;
  }
  if (auto f = req.Query("filter"); f && !f->empty()) {
    SendText(w, 400, "filter expressions are not supported by moor");
    return false;
  }
  return true;
}

// ?node-meta=key:value (repeatable, ANDed) against our single node.
bool NodeMetaMatches(const Request& req, const Node& node) {
  for (const std::string& kv : req.QueryAll("node-meta")) {
    auto colon = kv.find(':');
    std::string k = kv.substr(0, colon);
    std::string v = colon == std::string::npos ? "" : kv.substr(colon + 1);
    auto it = node.meta.find(k);
    if (it == node.meta.end() || it->second != v) return false;
  }
  return true;
}

bool HasAllTags(const ServiceInstance& s, const std::vector<std::string>& tags) {
  for (const auto& t : tags) {
    if (std::find(s.tags.begin(), s.tags.end(), t) == s.tags.end()) return false;
  }
  return true;
}

// Consul's query booleans are present-means-true ("?recurse"); ?passing
// also takes a value ("?passing=false").
std::optional<bool> ParseQueryBool(const Request& req, const std::string& key, ResponseWriter& w) {
  auto v = req.Query(key);
  if (!v) return false;
  if (v->empty() || *v == "1" || *v == "t" || *v == "T" || *v == "true" || *v == "TRUE" || *v == "True")
    return true;
  if (*v == "0" || *v == "f" || *v == "F" || *v == "false" || *v == "FALSE" || *v == "False") return false;
  SendText(w, 400, "Invalid value for ?" + key);
  return std::nullopt;
}

std::vector<CheckState> NodeChecks(const Catalog& cat) {
  std::vector<CheckState> out;
  for (auto& c : cat.Checks()) {
    if (c.service_id.empty()) out.push_back(std::move(c));
  }
  return out;
}

std::map<std::string, std::vector<std::string>> TagsById(const Catalog& cat) {
  std::map<std::string, std::vector<std::string>> out;
  for (auto& s : cat.Instances()) out[s.id] = std::move(s.tags);
  return out;
}

json ChecksArray(const Catalog& cat, const std::vector<CheckState>& checks) {
  auto tags = TagsById(cat);
  json out = json::array();
  for (const auto& c : checks) out.push_back(consul::CheckJson(cat.node(), c, tags[c.service_id]));
  return out;
}

// ---- agent ------------------------------------------------------------------

json AgentSelf(const Node& node) {
  return {{"Config",
           {{"Datacenter", node.datacenter},
            {"PrimaryDatacenter", node.datacenter},
            {"NodeName", node.name},
            {"NodeID", node.id},
            {"Server", true},
            {"Revision", "moor"},
            // Clients gate features on the version; moor serves the 1.x API.
            {"Version", "1.15.0"}}},
          {"Coord", nullptr},
          {"Member",
           {{"Name", node.name},
            {"Addr", node.address},
            {"Port", 8301},
            {"Tags",
             {{"dc", node.datacenter}, {"id", node.id}, {"role", "consul"}, {"build", "1.15.0:moor"}, {"vsn", "2"}}},
            {"Status", 1}}},
          {"Meta", [&] {
             json m = json::object();
             for (const auto& [k, v] : node.meta) m[k] = v;
             return m;
           }()}};
}

// Maps the agent's errors to Consul's status codes and texts.
void SendAgentError(ResponseWriter& w, const Error& e, const std::string& what, const std::string& id) {
  switch (e.errnum()) {
    case ENOENT:
      if (what == "service") {
        SendText(w, 404, "Unknown service ID " + Quote(id) + ". Ensure that the service ID is passed, not the service name.");
      } else if (what == "check") {
        SendText(w, 404, "Unknown check ID " + Quote(id) + ". Ensure that the check ID is passed, not the check name.");
      } else {
        SendText(w, 400, e.message());
      }
      return;
    case EPERM:
      SendText(w, 403, e.message());
      return;
    case EINVAL:
      SendText(w, 400, e.message());
      return;
    default:
      SendText(w, 500, e.message());
  }
}

std::optional<json> ParseBody(const Request& req, ResponseWriter& w) {
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    SendText(w, 400, "Request decode failed: the body is not valid JSON");
    return std::nullopt;
  }
  return j;
}

void AddAgentRoutes(api::Router& router, Agent& agent) {
  Catalog& cat = agent.catalog();
  router.Handle("GET", "/v1/agent/self", [&](const Request& req, ResponseWriter& w) {
    SendJsonBody(req, w, 200, AgentSelf(cat.node()));
  });
  router.Handle("GET", "/v1/agent/services", [&](const Request& req, ResponseWriter& w) {
    if (!CommonArgsOk(req, w, cat.node())) return;
    json out = json::object();
    for (const auto& s : cat.Instances()) out[s.id] = consul::AgentServiceJson(cat.node(), s);
    SendJsonBody(req, w, 200, out);
  });
  router.Handle("GET", "/v1/agent/service/{id}", [&](const Request& req, ResponseWriter& w) {
    auto s = cat.Instance(req.Param("id"));
    if (!s) return SendText(w, 404, "unknown service ID: " + req.Param("id"));
    json j = consul::AgentServiceJson(cat.node(), *s);
    j["ContentHash"] = std::to_string(s->modify_index);
    SendJsonBody(req, w, 200, j, {{"x-consul-contenthash", std::to_string(s->modify_index)}});
  });
  router.Handle("GET", "/v1/agent/checks", [&](const Request& req, ResponseWriter& w) {
    if (!CommonArgsOk(req, w, cat.node())) return;
    auto tags = TagsById(cat);
    json out = json::object();
    for (const auto& c : cat.Checks()) out[c.def.id] = consul::CheckJson(cat.node(), c, tags[c.service_id]);
    SendJsonBody(req, w, 200, out);
  });
  router.Handle("PUT", "/v1/agent/service/register", [&](const Request& req, ResponseWriter& w) {
    auto body = ParseBody(req, w);
    if (!body) return;
    auto def = consul::ParseServiceDefinition(*body);
    if (!def) return SendText(w, 400, "Invalid service: " + def.error().message());
    auto r = agent.RegisterService(std::move(def->svc), std::move(def->checks));
    if (!r) return SendAgentError(w, r.error(), "", "");
    w.Send(api::Response{200, {}, ""});
  });
  auto deregister_service = [&](const Request& req, ResponseWriter& w) {
    auto r = agent.DeregisterService(req.Param("id"));
    if (!r) return SendAgentError(w, r.error(), "service", req.Param("id"));
    w.Send(api::Response{200, {}, ""});
  };
  router.Handle("PUT", "/v1/agent/service/deregister/{id}", deregister_service);
  router.Handle("GET", "/v1/agent/service/deregister/{id}", deregister_service);
  router.Handle("PUT", "/v1/agent/check/register", [&](const Request& req, ResponseWriter& w) {
    auto body = ParseBody(req, w);
    if (!body) return;
    std::string service_id;
    auto def = consul::ParseCheckDefinition(*body, &service_id);
    if (!def) return SendText(w, 400, "Invalid check: " + def.error().message());
    if (def->id.empty()) def->id = def->name;  // Consul's default CheckID is the name
    auto r = agent.RegisterCheck(service_id, std::move(*def));
    if (!r) return SendAgentError(w, r.error(), "", "");
    w.Send(api::Response{200, {}, ""});
  });
  auto deregister_check = [&](const Request& req, ResponseWriter& w) {
    auto r = agent.DeregisterCheck(req.Param("id"));
    if (!r) return SendAgentError(w, r.error(), "check", req.Param("id"));
    w.Send(api::Response{200, {}, ""});
  };
  router.Handle("PUT", "/v1/agent/check/deregister/{id}", deregister_check);
  router.Handle("GET", "/v1/agent/check/deregister/{id}", deregister_check);
  auto ttl = [&](Health h) {
    return [&agent, h](const Request& req, ResponseWriter& w) {
      auto r = agent.UpdateTtl(req.Param("id"), h, req.Query("note").value_or(""));
      if (!r) return SendAgentError(w, r.error(), "check", req.Param("id"));
      w.Send(api::Response{200, {}, ""});
    };
  };
  // Consul before 1.0 took GET on these (and on the deregister endpoints);
  // clients of that age (python-consul 0.7, Debian's) still send GET.
  for (const char* method : {"PUT", "GET"}) {
    router.Handle(method, "/v1/agent/check/pass/{id}", ttl(Health::kPassing));
    router.Handle(method, "/v1/agent/check/warn/{id}", ttl(Health::kWarning));
    router.Handle(method, "/v1/agent/check/fail/{id}", ttl(Health::kCritical));
  }
  router.Handle("PUT", "/v1/agent/check/update/{id}", [&](const Request& req, ResponseWriter& w) {
    auto body = ParseBody(req, w);
    if (!body) return;
    if (!body->is_object()) return SendText(w, 400, "Request decode failed: want {\"Status\",\"Output\"}");
    std::string status = body->value("Status", "");
    auto h = ParseHealth(status);
    if (!h) return SendText(w, 400, "Invalid check status: " + Quote(status));
    auto output = body->value("Output", "");
    auto r = agent.UpdateTtl(req.Param("id"), *h, output);
    if (!r) return SendAgentError(w, r.error(), "check", req.Param("id"));
    w.Send(api::Response{200, {}, ""});
  });
}

// ---- status, catalog, health ---------------------------------------------

std::string LeaderAddress(const Node& node) {
  return (node.address.empty() ? std::string("127.0.0.1") : node.address) + ":8300";
}

// Registers a GET route answering a blocking query: parses the common and
// blocking arguments, waits on index(req), then answers body(req) with the
// Consul headers. body may answer itself (returning nullopt).
using IndexFn = std::function<uint64_t(const Request&)>;
using BodyFn = std::function<std::optional<json>(const Request&, ResponseWriter&)>;

void HandleBlocking(api::Router& router, Catalog& cat, const std::string& pattern, IndexFn index, BodyFn body) {
  router.Handle("GET", pattern, [&cat, index, body](const Request& req, ResponseWriter& w) {
    if (!CommonArgsOk(req, w, cat.node())) return;
    auto args = ParseBlocking(req, w);
    if (!args) return;
    uint64_t idx = Block(cat, w, *args, [&] { return index(req); });
    auto out = body(req, w);
    if (out) SendJsonBody(req, w, 200, *out, ConsulHeaders(idx));
  });
}

void AddCatalogRoutes(api::Router& router, Catalog& cat) {
  router.Handle("GET", "/v1/status/leader", [&](const Request& req, ResponseWriter& w) {
    SendJsonBody(req, w, 200, LeaderAddress(cat.node()));
  });
  router.Handle("GET", "/v1/status/peers", [&](const Request& req, ResponseWriter& w) {
    SendJsonBody(req, w, 200, json::array({LeaderAddress(cat.node())}));
  });
  router.Handle("GET", "/v1/catalog/datacenters", [&](const Request& req, ResponseWriter& w) {
    SendJsonBody(req, w, 200, json::array({cat.node().datacenter}));
  });

  auto nodes_index = [&](const Request&) { return cat.NodesIndex(); };
  auto checks_index = [&](const Request&) { return cat.ChecksIndex(); };
  auto service_index = [&](const Request& req) { return cat.ServiceIndex(req.Param("name")); };

  HandleBlocking(router, cat, "/v1/catalog/nodes", nodes_index,
                 [&](const Request& req, ResponseWriter&) -> std::optional<json> {
                   json out = json::array();
                   if (NodeMetaMatches(req, cat.node())) out.push_back(consul::NodeJson(cat.node(), cat.NodesIndex()));
                   return out;
                 });
  HandleBlocking(router, cat, "/v1/catalog/node/{node}", checks_index,
                 [&](const Request& req, ResponseWriter&) -> std::optional<json> {
                   // Consul answers null for a node it does not know.
                   if (req.Param("node") != cat.node().name) return json(nullptr);
                   json services = json::object();
                   for (const auto& s : cat.Instances()) services[s.id] = consul::AgentServiceJson(cat.node(), s);
                   return json{{"Node", consul::NodeJson(cat.node(), cat.NodesIndex())}, {"Services", services}};
                 });
  HandleBlocking(router, cat, "/v1/catalog/services", [&](const Request&) { return cat.ServicesIndex(); },
                 [&](const Request& req, ResponseWriter&) -> std::optional<json> {
                   json out = json::object();
                   if (!NodeMetaMatches(req, cat.node())) return out;
                   for (const auto& [name, tags] : cat.ServiceNames()) out[name] = tags;
                   return out;
                 });
  HandleBlocking(router, cat, "/v1/catalog/service/{name}", service_index,
                 [&](const Request& req, ResponseWriter&) -> std::optional<json> {
                   json out = json::array();
                   if (!NodeMetaMatches(req, cat.node())) return out;
                   auto tags = req.QueryAll("tag");
                   for (const auto& ih : cat.Health(req.Param("name"))) {
                     if (HasAllTags(ih.service, tags)) out.push_back(consul::CatalogServiceJson(cat.node(), ih.service));
                   }
                   return out;
                 });
  HandleBlocking(router, cat, "/v1/health/service/{name}", service_index,
                 [&](const Request& req, ResponseWriter& w) -> std::optional<json> {
                   auto passing = ParseQueryBool(req, "passing", w);
                   if (!passing) return std::nullopt;
                   json out = json::array();
                   if (!NodeMetaMatches(req, cat.node())) return out;
                   auto node_checks = NodeChecks(cat);
                   // ?passing: every check passing, the node's too.
                   if (*passing && std::any_of(node_checks.begin(), node_checks.end(),
                                               [](const CheckState& c) { return c.status != Health::kPassing; }))
                     return out;
                   auto tags = req.QueryAll("tag");
                   uint64_t node_index = cat.NodesIndex();
                   for (const auto& ih : cat.Health(req.Param("name"), "", *passing)) {
                     if (!HasAllTags(ih.service, tags)) continue;
                     out.push_back(consul::HealthServiceJson(cat.node(), ih, node_checks, node_index));
                   }
                   return out;
                 });
  HandleBlocking(router, cat, "/v1/health/checks/{name}", service_index,
                 [&](const Request& req, ResponseWriter&) -> std::optional<json> {
                   std::vector<CheckState> checks;
                   for (const auto& ih : cat.Health(req.Param("name"))) {
                     for (const auto& c : ih.checks) {
                       if (!c.service_id.empty()) checks.push_back(c);
                     }
                   }
                   return ChecksArray(cat, checks);
                 });
  HandleBlocking(router, cat, "/v1/health/state/{state}", checks_index,
                 [&](const Request& req, ResponseWriter& w) -> std::optional<json> {
                   std::string state = req.Param("state");
                   auto h = ParseHealth(state);
                   if (state != "any" && !h) {
                     SendText(w, 400, "Invalid check state: " + Quote(state) + " (want any, passing, warning or critical)");
                     return std::nullopt;
                   }
                   std::vector<CheckState> checks;
                   for (auto& c : cat.Checks()) {
                     if (!h || c.status == *h) checks.push_back(std::move(c));
                   }
                   return ChecksArray(cat, checks);
                 });
  HandleBlocking(router, cat, "/v1/health/node/{node}", checks_index,
                 [&](const Request& req, ResponseWriter&) -> std::optional<json> {
                   if (req.Param("node") != cat.node().name) return json::array();
                   return ChecksArray(cat, cat.Checks());
                 });
}

// ---- kv ---------------------------------------------------------------------

// ?keys: the keys under the prefix, each cut after the first separator
// following the prefix (a "folder" listing), without duplicates.
json KeyList(const std::vector<KvEntry>& entries, const std::string& prefix, const std::string& sep) {
  json out = json::array();
  std::string last;
  for (const auto& e : entries) {
    std::string k = e.key;
    if (!sep.empty()) {
      auto pos = k.find(sep, prefix.size());
      if (pos != std::string::npos) k = k.substr(0, pos + sep.size());
    }
    if (!out.empty() && k == last) continue;
    out.push_back(k);
    last = k;
  }
  return out;
}

void KvGet(Catalog& cat, const Request& req, ResponseWriter& w) {
  if (!CommonArgsOk(req, w, cat.node())) return;
  auto args = ParseBlocking(req, w);
  if (!args) return;
  std::string key = req.Param("key");
  bool keys = req.Query("keys").has_value();
  bool recurse = req.Query("recurse").has_value() || keys;
  if (key.empty() && !recurse) return SendText(w, 400, "Missing key name");
  uint64_t idx = Block(cat, w, *args, [&] { return cat.KvIndex(key, recurse); });
  api::Headers headers = ConsulHeaders(idx);
  auto not_found = [&] {
    w.Send(api::Response{404, headers, ""});  // Consul: 404 with an empty body
  };
  if (keys) {
    auto entries = cat.KvList(key);
    if (entries.empty()) return not_found();
    return SendJsonBody(req, w, 200, KeyList(entries, key, req.Query("separator").value_or("")), headers);
  }
  std::vector<KvEntry> entries;
  if (recurse) {
    entries = cat.KvList(key);
  } else if (auto e = cat.KvGet(key)) {
    entries.push_back(std::move(*e));
  }
  if (entries.empty()) return not_found();
  if (req.Query("raw")) {
    headers["content-type"] = "application/octet-stream";
    headers["x-content-type-options"] = "nosniff";
    return w.Send(api::Response{200, std::move(headers), entries.front().value});
  }
  json out = json::array();
  for (const auto& e : entries) out.push_back(consul::KvJson(e));
  SendJsonBody(req, w, 200, out, headers);
}

// ?cas=N / ?flags=N: unsigned integers; answers 400 and returns false when bad.
bool ParseUintArg(const Request& req, ResponseWriter& w, const std::string& key, std::optional<uint64_t>* out) {
  auto v = req.Query(key);
  if (!v) return true;
  auto n = ParseUint(*v);
  if (!n) {
    SendText(w, 400, "Invalid " + key + " value " + Quote(*v) + " (want an unsigned integer)");
    return false;
  }
  *out = *n;
  return true;
}

void KvPut(Catalog& cat, const Request& req, ResponseWriter& w) {
  if (!CommonArgsOk(req, w, cat.node())) return;
  std::string key = req.Param("key");
  if (key.empty()) return SendText(w, 400, "Missing key name");
  if (req.Query("acquire") || req.Query("release"))
    return SendText(w, 400, "sessions (acquire/release) are not supported by moor");
  std::optional<uint64_t> cas, flags;
  if (!ParseUintArg(req, w, "cas", &cas) || !ParseUintArg(req, w, "flags", &flags)) return;
  if (req.body.size() > kMaxKvValue) {
    return SendText(w, 413, "Request body(" + std::to_string(req.body.size()) +
                                " bytes) too large, max size: " + std::to_string(kMaxKvValue) + " bytes");
  }
  auto r = cat.KvPut(key, req.body, flags.value_or(0), cas);
  if (!r) return SendText(w, r.error().errnum() == EINVAL ? 400 : 500, r.error().message());
  SendJsonBody(req, w, 200, json(*r));
}

void KvDelete(Catalog& cat, const Request& req, ResponseWriter& w) {
  if (!CommonArgsOk(req, w, cat.node())) return;
  std::string key = req.Param("key");
  bool recurse = req.Query("recurse").has_value();
  if (key.empty() && !recurse) return SendText(w, 400, "Missing key name");
  std::optional<uint64_t> cas;
  if (!ParseUintArg(req, w, "cas", &cas)) return;
  if (cas && recurse) return SendText(w, 400, "Conflicting flags: cas and recurse");
  auto r = cat.KvDelete(key, recurse, cas);
  if (!r) return SendText(w, r.error().errnum() == EINVAL ? 400 : 500, r.error().message());
  SendJsonBody(req, w, 200, json(*r));
}

void AddKvRoutes(api::Router& router, Catalog& cat) {
  router.Handle("GET", "/v1/kv/{key*}", [&](const Request& req, ResponseWriter& w) { KvGet(cat, req, w); });
  router.Handle("PUT", "/v1/kv/{key*}", [&](const Request& req, ResponseWriter& w) { KvPut(cat, req, w); });
  router.Handle("DELETE", "/v1/kv/{key*}", [&](const Request& req, ResponseWriter& w) { KvDelete(cat, req, w); });
}

}  // namespace

void AddConsulRoutes(api::Router& router, Agent& agent) {
  AddAgentRoutes(router, agent);
  AddCatalogRoutes(router, agent.catalog());
  AddKvRoutes(router, agent.catalog());
}

}  // namespace moor::discovery
