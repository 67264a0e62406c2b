#include "discovery/consul_json.h"

#include "common/base64.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "common/strings.h"

namespace moor::discovery::consul {

using nlohmann::json;

namespace {

// "Deregister_Critical_Service_After" and "DeregisterCriticalServiceAfter"
// compare equal: Go's decoder ignores case, Consul's adds the snake_case names.
std::string NormalizeKey(std::string_view k) {
  std::string out;
  for (char c : k) {
    if (c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The value of the first of `names` present in object j (null if none).
const json* Field(const json& j, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    std::string want = NormalizeKey(name);
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (NormalizeKey(it.key()) == want && !it.value().is_null()) return &it.value();
    }
  }
  return nullptr;
}

Result<std::string> String(const json& j, std::initializer_list<std::string_view> names) {
  const json* v = Field(j, names);
  if (!v) return std::string();
  if (!v->is_string()) return FailInvalid(std::string(*names.begin()) + " must be a string");
  return v->get<std::string>();
}

Result<int64_t> Int(const json& j, std::initializer_list<std::string_view> names) {
  const json* v = Field(j, names);
  if (!v) return int64_t{0};
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>())
    return static_cast<int64_t>(v->get<double>());
  return FailInvalid(std::string(*names.begin()) + " must be an integer");
}

Result<bool> Bool(const json& j, std::initializer_list<std::string_view> names) {
  const json* v = Field(j, names);
  if (!v) return false;
  if (!v->is_boolean()) return FailInvalid(std::string(*names.begin()) + " must be true or false");
  return v->get<bool>();
}

Result<int64_t> Duration(const json& j, std::initializer_list<std::string_view> names) {
  const json* v = Field(j, names);
  if (!v) return int64_t{0};
  auto d = ParseConsulDuration(*v);
  if (!d) return FailInvalid(std::string(*names.begin()) + ": invalid duration " + v->dump() + " (want e.g. \"10s\")");
  return *d;
}

Result<std::vector<std::string>> Strings(const json& j, std::initializer_list<std::string_view> names) {
  std::vector<std::string> out;
  const json* v = Field(j, names);
  if (!v) return out;
  if (!v->is_array()) return FailInvalid(std::string(*names.begin()) + " must be a list of strings");
  for (const auto& e : *v) {
    if (!e.is_string()) return FailInvalid(std::string(*names.begin()) + " must be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> StringMap(const json& j, std::initializer_list<std::string_view> names) {
  std::map<std::string, std::string> out;
  const json* v = Field(j, names);
  if (!v) return out;
  if (!v->is_object()) return FailInvalid(std::string(*names.begin()) + " must be an object of strings");
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string()) return FailInvalid(std::string(*names.begin()) + "." + it.key() + " must be a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

json TaggedAddresses(const std::string& address) {
  return {{"lan", address}, {"lan_ipv4", address}, {"wan", address}, {"wan_ipv4", address}};
}

json StringMapJson(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

// Consul's type names: a command run inside a container is its "docker"
// check; moor's HEALTHCHECK mirror has no Consul counterpart and is shown as
// "docker" too; FastCGI is moor's own.
std::string ConsulCheckType(const std::string& type) {
  if (type == "exec") return "docker";
  return type;
}

}  // namespace

std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? uint64_t(-(ns + 1)) + 1 : uint64_t(ns);
  // Below a second Go picks the largest unit with an integral part.
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest) {
      std::string digits = std::to_string(unit + rest).substr(1);
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      s += "." + digits;
    }
    return s;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + frac(u, 1000) + "µs";
  if (u < 1000000000) return sign + frac(u, 1000000) + "ms";
  uint64_t secs_ns = u % 60'000'000'000ULL;
  uint64_t mins = u / 60'000'000'000ULL;
  std::string out = frac(secs_ns, 1'000'000'000ULL) + "s";
  if (mins > 0) {
    out = std::to_string(mins % 60) + "m" + out;
    if (mins >= 60) out = std::to_string(mins / 60) + "h" + out;
  }
  return sign + out;
}

std::optional<int64_t> ParseConsulDuration(const json& v) {
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (n < 0) return std::nullopt;
    return n;
  }
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.empty()) return int64_t{0};
    return ParseDurationNs(s);
  }
  return std::nullopt;
}

json NodeJson(const Node& node, uint64_t modify_index) {
  return {{"ID", node.id},
          {"Node", node.name},
          {"Address", node.address},
          {"Datacenter", node.datacenter},
          {"TaggedAddresses", TaggedAddresses(node.address)},
          {"Meta", StringMapJson(node.meta)},
          {"CreateIndex", 1},
          {"ModifyIndex", std::max<uint64_t>(modify_index, 1)}};
}

json AgentServiceJson(const Node& node, const ServiceInstance& svc) {
  return {{"ID", svc.id},
          {"Service", svc.name},
          {"Tags", svc.tags},
          {"Meta", StringMapJson(svc.meta)},
          {"Port", svc.port},
          {"Address", svc.address},
          {"Weights", {{"Passing", 1}, {"Warning", 1}}},
          {"EnableTagOverride", false},
          {"Datacenter", node.datacenter},
          {"CreateIndex", svc.create_index},
          {"ModifyIndex", svc.modify_index}};
}

json CatalogServiceJson(const Node& node, const ServiceInstance& svc) {
  return {{"ID", node.id},
          {"Node", node.name},
          {"Address", node.address},
          {"Datacenter", node.datacenter},
          {"TaggedAddresses", TaggedAddresses(node.address)},
          {"NodeMeta", StringMapJson(node.meta)},
          {"ServiceKind", ""},
          {"ServiceID", svc.id},
          {"ServiceName", svc.name},
          {"ServiceTags", svc.tags},
          {"ServiceAddress", svc.address},
          {"ServiceWeights", {{"Passing", 1}, {"Warning", 1}}},
          {"ServiceMeta", StringMapJson(svc.meta)},
          {"ServicePort", svc.port},
          {"ServiceEnableTagOverride", false},
          {"CreateIndex", svc.create_index},
          {"ModifyIndex", svc.modify_index}};
}

json CheckJson(const Node& node, const CheckState& c, const std::vector<std::string>& service_tags) {
  const CheckDef& d = c.def;
  bool probed = d.type == "tcp" || d.type == "http" || d.type == "fastcgi" || d.type == "exec";
  json def = json::object();
  if (d.type == "http") {
    def["HTTP"] = d.target;
    def["Method"] = d.method;
    json hdr = json::object();
    for (const auto& [k, v] : d.headers) hdr[k] = json::array({v});
    def["Header"] = hdr;
    def["TLSSkipVerify"] = d.tls_skip_verify;
  } else if (d.type == "tcp") {
    def["TCP"] = d.target;
  } else if (d.type == "fastcgi") {
    def["FastCGI"] = d.target;
    def["FastCGIPath"] = d.path;
  } else if (d.type == "exec") {
    def["ScriptArgs"] = d.args;
    def["DockerContainerID"] = d.container_id;
  }
  if (probed) {
    def["Interval"] = GoDuration(d.interval_ns);
    def["Timeout"] = GoDuration(d.timeout_ns);
  }
  if (d.type == "ttl") def["TTL"] = GoDuration(d.ttl_ns);
  def["DeregisterCriticalServiceAfter"] = GoDuration(d.deregister_critical_after_ns);
  return {{"Node", node.name},
          {"CheckID", d.id},
          {"Name", d.name},
          {"Status", std::string(HealthName(c.status))},
          {"Notes", d.notes},
          {"Output", c.output},
          {"ServiceID", c.service_id},
          {"ServiceName", c.service_name},
          {"ServiceTags", service_tags},
          {"Type", ConsulCheckType(d.type)},
          {"Interval", probed ? GoDuration(d.interval_ns) : ""},
          {"Timeout", probed ? GoDuration(d.timeout_ns) : ""},
          {"ExposedPort", 0},
          {"Definition", def},
          {"CreateIndex", c.create_index},
          {"ModifyIndex", c.modify_index}};
}

json HealthServiceJson(const Node& node, const InstanceHealth& ih, const std::vector<CheckState>& node_checks,
                       uint64_t node_index) {
  json checks = json::array();
  for (const auto& c : node_checks) checks.push_back(CheckJson(node, c, {}));
  for (const auto& c : ih.checks) {
    if (c.service_id.empty()) continue;  // a node check the catalog already added: listed above
    checks.push_back(CheckJson(node, c, ih.service.tags));
  }
  return {{"Node", NodeJson(node, node_index)}, {"Service", AgentServiceJson(node, ih.service)}, {"Checks", checks}};
}

json KvJson(const KvEntry& e) {
  return {{"LockIndex", e.lock_index},
          {"Key", e.key},
          {"Flags", e.flags},
          // Consul stores an empty value as nil, which Go writes as null.
          {"Value", e.value.empty() ? json(nullptr) : json(Base64Encode(e.value))},
          {"CreateIndex", e.create_index},
          {"ModifyIndex", e.modify_index}};
}

Result<CheckDef> ParseCheckDefinition(const json& j, std::string* service_id) {
  if (!j.is_object()) return FailInvalid("a check definition must be a JSON object");
  CheckDef d;
  d.id = TRY(String(j, {"CheckID", "ID"}));
  d.name = TRY(String(j, {"Name"}));
  d.notes = TRY(String(j, {"Notes"}));
  if (service_id) *service_id = TRY(String(j, {"ServiceID"}));
  std::string status = TRY(String(j, {"Status"}));
  if (!status.empty()) {
    auto h = ParseHealth(status);
    if (!h) return FailInvalid("Status \"" + status + "\": want passing, warning or critical");
    d.initial = *h;
  }
  for (const char* unsupported : {"GRPC", "H2PING", "UDP", "AliasNode", "AliasService", "OSService", "Shell"}) {
    if (Field(j, {unsupported})) {
      return FailInvalid(std::string(unsupported) + " checks are not supported by moor (use HTTP, TCP, TTL, "
                                                    "FastCGI or Args with DockerContainerID)");
    }
  }
  std::string http = TRY(String(j, {"HTTP"}));
  std::string tcp = TRY(String(j, {"TCP"}));
  std::string fastcgi = TRY(String(j, {"FastCGI"}));
  std::vector<std::string> args = TRY(Strings(j, {"Args", "ScriptArgs"}));
  int64_t ttl = TRY(Duration(j, {"TTL"}));
  int kinds = !http.empty() + !tcp.empty() + !fastcgi.empty() + !args.empty() + (ttl > 0);
  if (kinds == 0) return FailInvalid("a check needs one of HTTP, TCP, TTL, FastCGI or Args");
  if (kinds > 1) return FailInvalid("a check has exactly one of HTTP, TCP, TTL, FastCGI or Args");
  if (!http.empty()) {
    d.type = "http";
    d.target = http;
    std::string method = TRY(String(j, {"Method"}));
    if (!method.empty()) d.method = method;
    if (const json* h = Field(j, {"Header"})) {
      // Consul's Header is map[string][]string; one value per name here.
      if (!h->is_object()) return FailInvalid("Header must be an object of string lists");
      for (auto it = h->begin(); it != h->end(); ++it) {
        std::vector<std::string> vals;
        if (it.value().is_string()) {
          vals.push_back(it.value().get<std::string>());
        } else if (it.value().is_array()) {
          for (const auto& v : it.value()) {
            if (!v.is_string()) return FailInvalid("Header." + it.key() + " must be a list of strings");
            vals.push_back(v.get<std::string>());
          }
        } else {
          return FailInvalid("Header." + it.key() + " must be a list of strings");
        }
        d.headers[it.key()] = Join(vals, ", ");
      }
    }
    if (Field(j, {"Body"})) return FailInvalid("HTTP check Body is not supported by moor");
    d.tls_skip_verify = TRY(Bool(j, {"TLSSkipVerify"}));
  } else if (!tcp.empty()) {
    d.type = "tcp";
    d.target = tcp;
  } else if (!fastcgi.empty()) {
    d.type = "fastcgi";
    d.target = fastcgi;
    d.path = TRY(String(j, {"FastCGIPath"}));
    if (d.path.empty()) d.path = "/ping";
  } else if (!args.empty()) {
    d.type = "exec";
    d.args = std::move(args);
    d.container_id = TRY(String(j, {"DockerContainerID"}));
    if (d.container_id.empty()) {
      return FailInvalid("Args checks run inside a container with moor: set DockerContainerID");
    }
  } else {
    d.type = "ttl";
    d.ttl_ns = ttl;
  }
  if (d.type != "ttl") {
    if (int64_t v = TRY(Duration(j, {"Interval"}))) d.interval_ns = v;
    if (int64_t v = TRY(Duration(j, {"Timeout"}))) d.timeout_ns = v;
  }
  d.deregister_critical_after_ns = TRY(Duration(j, {"DeregisterCriticalServiceAfter"}));
  int64_t sbp = TRY(Int(j, {"SuccessBeforePassing"}));
  int64_t fbc = TRY(Int(j, {"FailuresBeforeCritical"}));
  if (sbp < 0 || fbc < 0 || sbp > 1000 || fbc > 1000)
    return FailInvalid("SuccessBeforePassing and FailuresBeforeCritical must be 0-1000");
  d.success_before_passing = static_cast<int>(sbp);
  d.failures_before_critical = static_cast<int>(fbc);
  return d;
}

Result<ServiceDefinition> ParseServiceDefinition(const json& j) {
  if (!j.is_object()) return FailInvalid("the service definition must be a JSON object");
  ServiceDefinition out;
  ServiceInstance& s = out.svc;
  s.name = TRY(String(j, {"Name"}));
  if (s.name.empty()) return FailInvalid("Missing service name");
  s.id = TRY(String(j, {"ID"}));
  s.tags = TRY(Strings(j, {"Tags"}));
  s.meta = TRY(StringMap(j, {"Meta"}));
  s.address = TRY(String(j, {"Address"}));
  int64_t port = TRY(Int(j, {"Port"}));
  if (port < 0 || port > 65535) return FailInvalid("Port " + std::to_string(port) + " is out of range 0-65535");
  s.port = static_cast<int>(port);
  std::string kind = TRY(String(j, {"Kind"}));
  if (!kind.empty()) return FailInvalid("service Kind \"" + kind + "\" is not supported by moor");
  if (const json* c = Field(j, {"Check"}); c && !c->empty()) {
    out.checks.push_back(TRY_CTX(ParseCheckDefinition(*c), "Check"));
  }
  if (const json* cs = Field(j, {"Checks"})) {
    if (!cs->is_array()) return FailInvalid("Checks must be a list of check definitions");
    for (size_t i = 0; i < cs->size(); ++i) {
      out.checks.push_back(TRY_CTX(ParseCheckDefinition((*cs)[i]), "Checks[" + std::to_string(i) + "]"));
    }
  }
  return out;
}

}  // namespace moor::discovery::consul
