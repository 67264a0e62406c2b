// PlanFor: a container's labels → its service instances, checks, templates.
#include <algorithm>

#include "common/strings.h"
#include "discovery/registrar.h"

namespace moor::discovery {

namespace {

const std::string* Label(const ContainerInfo& c, const std::string& key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? nullptr : &it->second;
}

void Duration(const ContainerInfo& c, const std::string& key, int64_t* out, ContainerPlan& plan) {
  const auto* v = Label(c, key);
  if (!v) return;
  auto d = ParseDurationNs(*v);
  if (!d || *d < 0) {
    plan.warnings.push_back("label " + key + "=" + *v + ": not a duration (e.g. 5s, 500ms); ignored");
    return;
  }
  *out = *d;
}

void Count(const ContainerInfo& c, const std::string& key, int* out, ContainerPlan& plan) {
  const auto* v = Label(c, key);
  if (!v) return;
  auto n = ParseInt(*v);
  if (!n || *n < 0 || *n > 1000) {
    plan.warnings.push_back("label " + key + "=" + *v + ": not a count 0-1000; ignored");
    return;
  }
  *out = static_cast<int>(*n);
}

std::string Address(const ContainerInfo& c, const std::string& node_address) {
  return c.host_network ? node_address : c.ip;
}

// The check for one instance, from moor.check*; nullopt = none (registered at once).
std::optional<CheckDef> CheckFor(const ContainerInfo& c, const ServiceInstance& svc, ContainerPlan& plan) {
  const auto* label = Label(c, "moor.check");
  std::string spec = label ? *label : (c.has_healthcheck ? "docker" : "tcp");
  CheckDef d;
  d.id = "service:" + svc.id;
  d.name = "Service '" + svc.name + "' check";
  d.container_id = c.id;
  d.interval_ns = 2'000'000'000;
  d.timeout_ns = 2'000'000'000;
  int port = svc.port;
  if (const auto* p = Label(c, "moor.check.port")) {
    auto n = ParseInt(*p);
    if (n && *n > 0 && *n < 65536) port = static_cast<int>(*n);
    else plan.warnings.push_back("label moor.check.port=" + *p + ": not a port; ignored");
  }
  std::string addr = Address(c, "127.0.0.1");
  std::string kind = spec.substr(0, spec.find(':'));
  std::string arg = spec.find(':') == std::string::npos ? "" : spec.substr(spec.find(':') + 1);
  if (kind == "none") return std::nullopt;
  if (kind == "tcp") {
    d.type = "tcp";
    d.target = addr + ":" + std::to_string(port);
  } else if (kind == "http" || kind == "https") {
    d.type = "http";
    d.target = kind + "://" + addr + ":" + std::to_string(port) + (arg.empty() ? "/" : arg);
  } else if (kind == "fastcgi") {
    d.type = "fastcgi";
    d.target = addr + ":" + std::to_string(port);
    d.path = arg.empty() ? "/ping" : arg;
    // PHP-FPM answers its ping only when a worker is free: a pool busy with
    // slow requests must not drop out of rotation on one late ping.
    d.failures_before_critical = 3;
  } else if (kind == "exec") {
    if (arg.empty()) {
      plan.warnings.push_back("label moor.check=exec: needs a command (exec:CMD); using tcp");
      d.type = "tcp";
      d.target = addr + ":" + std::to_string(port);
    } else {
      d.type = "exec";
      d.args = {"/bin/sh", "-c", arg};
    }
  } else if (kind == "ttl") {
    d.type = "ttl";
    d.ttl_ns = 30'000'000'000;
  } else if (kind == "docker") {
    d.type = "docker";
  } else {
    plan.warnings.push_back("label moor.check=" + spec +
                            ": unknown check (tcp, http:/path, https:/path, fastcgi:/path, exec:CMD, ttl, docker, none); "
                            "using tcp");
    d.type = "tcp";
    d.target = addr + ":" + std::to_string(port);
  }
  Duration(c, "moor.check.interval", &d.interval_ns, plan);
  Duration(c, "moor.check.timeout", &d.timeout_ns, plan);
  Duration(c, "moor.check.ttl", &d.ttl_ns, plan);
  Duration(c, "moor.check.deregister_critical_after", &d.deregister_critical_after_ns, plan);
  Count(c, "moor.check.success_before_passing", &d.success_before_passing, plan);
  Count(c, "moor.check.failures_before_critical", &d.failures_before_critical, plan);
  if (const auto* s = Label(c, "moor.check.status")) {
    auto n = ParseInt(*s);
    if (n && *n >= 100 && *n < 600) d.expect_status = static_cast<int>(*n);
    else plan.warnings.push_back("label moor.check.status=" + *s + ": not an HTTP status; ignored");
  }
  if (const auto* b = Label(c, "moor.check.body")) d.body_match = *b;
  if (const auto* t = Label(c, "moor.check.tls_skip_verify")) d.tls_skip_verify = *t == "true" || *t == "1";
  if (d.start_interval_ns > d.interval_ns) d.start_interval_ns = d.interval_ns;
  return d;
}

}  // namespace

std::string ServiceNameFromImage(const std::string& image_ref) {
  std::string s = image_ref;
  if (auto at = s.find('@'); at != std::string::npos) s.resize(at);
  if (auto slash = s.rfind('/'); slash != std::string::npos) s = s.substr(slash + 1);
  if (auto colon = s.find(':'); colon != std::string::npos) s.resize(colon);
  return SanitizeServiceName(s);
}

ContainerPlan PlanFor(const ContainerInfo& c, const std::string& node_address) {
  ContainerPlan plan;
  Duration(c, "moor.service.drain", &plan.drain_ns, plan);

  // Templates are independent of services: an nginx may render without
  // providing a service itself.
  const auto* signal_label = Label(c, "moor.reload.signal");
  std::string signal = signal_label ? *signal_label : "HUP";
  for (const auto& [key, value] : c.labels) {
    if (!StartsWith(key, "moor.template.")) continue;
    std::string name = key.substr(14);
    if (name.empty() || name.find('.') != std::string::npos) continue;  // options like .wait
    auto colon = value.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == value.size() || value[0] != '/' ||
        value[colon + 1] != '/') {
      plan.warnings.push_back("label " + key + "=" + value +
                              ": expected SRC:DEST, two absolute paths inside the container; ignored");
      continue;
    }
    TemplateSpec t;
    t.id = c.id + ":" + name;
    t.container_id = c.id;
    t.source_path = value.substr(0, colon);
    t.dest_path = value.substr(colon + 1);
    t.reload_signal = signal == "none" ? "" : signal;
    if (const auto* w = Label(c, key + ".wait")) {
      auto parts = Split(*w, ':');
      auto mn = ParseDurationNs(parts[0]);
      auto mx = parts.size() > 1 ? ParseDurationNs(parts[1]) : std::optional<int64_t>(mn ? *mn * 4 : 0);
      if (mn && mx && *mn >= 0 && *mx >= *mn) {
        t.wait_min_ns = *mn;
        t.wait_max_ns = *mx;
      } else {
        plan.warnings.push_back("label " + key + ".wait=" + *w + ": expected MIN[:MAX] durations; ignored");
      }
    }
    plan.templates.push_back(std::move(t));
  }

  if (const auto* ig = Label(c, "moor.service.ignore"); ig && (*ig == "true" || *ig == "1")) return plan;
  const auto* explicit_name = Label(c, "moor.service");
  if (!explicit_name) explicit_name = Label(c, "moor.service.name");
  std::string name = explicit_name ? SanitizeServiceName(*explicit_name) : ServiceNameFromImage(c.image_ref);
  if (explicit_name && name != *explicit_name) {
    plan.warnings.push_back("label moor.service=" + *explicit_name + ": not DNS-safe; registered as \"" + name + "\"");
  }
  if (name.empty()) return plan;
  std::string address = Address(c, node_address);
  if (address.empty()) return plan;  // no network: nothing to reach

  std::vector<int> ports;
  bool per_port_names = false;
  if (const auto* p = Label(c, "moor.service.port")) {
    auto n = ParseInt(*p);
    if (!n || *n <= 0 || *n > 65535) {
      plan.warnings.push_back("label moor.service.port=" + *p + ": not a port; not registered");
      return plan;
    }
    ports.push_back(static_cast<int>(*n));
  } else {
    ports = c.tcp_ports;
    per_port_names = ports.size() > 1;
  }
  if (ports.empty()) return plan;  // nothing exposed: not a service

  std::vector<std::string> tags;
  if (const auto* t = Label(c, "moor.service.tags")) {
    for (const auto& tag : Split(*t, ',')) {
      auto s = std::string(Trim(tag));
      if (!s.empty()) tags.push_back(s);
    }
  }
  std::map<std::string, std::string> meta;
  for (const auto& [key, value] : c.labels) {
    if (StartsWith(key, "moor.service.meta.") && key.size() > 18) meta[key.substr(18)] = value;
  }
  for (int port : ports) {
    ContainerPlan::Instance inst;
    auto& s = inst.service;
    s.name = per_port_names ? name + "-" + std::to_string(port) : name;
    s.id = c.name + ":" + std::to_string(port);
    s.tags = tags;
    s.meta = meta;
    s.meta["container"] = c.name;
    s.address = address;
    s.port = port;
    s.source = "container";
    s.container_id = c.id;
    s.container_name = c.name;
    if (auto check = CheckFor(c, s, plan)) inst.checks.push_back(std::move(*check));
    plan.instances.push_back(std::move(inst));
  }
  return plan;
}

}  // namespace moor::discovery
