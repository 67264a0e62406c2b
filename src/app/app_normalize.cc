// The normalised app file (`moor config`), start order and service digests.
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <queue>

#include "app/app_file.h"
#include "common/strings.h"

namespace moor::app {

using nlohmann::json;

std::string FormatDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string out;
  if (ns % 1'000'000'000 != 0) {
    if (ns < 1'000'000'000) {
      if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
      if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
      return std::to_string(ns) + "ns";
    }
  }
  int64_t h = ns / 3'600'000'000'000, rem = ns % 3'600'000'000'000;
  int64_t m = rem / 60'000'000'000;
  rem %= 60'000'000'000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (rem) {
    int64_t s = rem / 1'000'000'000, frac = rem % 1'000'000'000;
    std::string fs;
    if (frac) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%09lld", static_cast<long long>(frac));
      fs = buf;
      while (!fs.empty() && fs.back() == '0') fs.pop_back();
      fs = "." + fs;
    }
    out += std::to_string(s) + fs + "s";
  }
  return out;
}

namespace {

std::string Wait(const TemplateSpec& t) {
  return FormatDuration(t.wait_min_ns) + ":" + FormatDuration(t.wait_max_ns);
}

json CheckJson(const CheckSpec& c) {
  json j = {{"type", c.type}};
  if (!c.path.empty()) j["path"] = c.path;
  if (c.port) j["port"] = c.port;
  if (c.interval_ns) j["interval"] = FormatDuration(c.interval_ns);
  if (c.timeout_ns) j["timeout"] = FormatDuration(c.timeout_ns);
  if (c.status) j["status"] = c.status;
  if (!c.body.empty()) j["body"] = c.body;
  if (c.success_before_passing) j["success_before_passing"] = c.success_before_passing;
  if (c.failures_before_critical) j["failures_before_critical"] = c.failures_before_critical;
  if (c.deregister_critical_after_ns) j["deregister_critical_after"] = FormatDuration(c.deregister_critical_after_ns);
  if (c.ttl_ns) j["ttl"] = FormatDuration(c.ttl_ns);
  if (c.tls_skip_verify) j["tls_skip_verify"] = true;
  return j;
}

}  // namespace

json ServiceJson(const ServiceSpec& s) {
  json j = json::object();
  j["image"] = s.image;
  if (s.build) {
    j["build"] = {{"context", s.build->context}, {"dockerfile", s.build->dockerfile}, {"args", s.build->args}};
  }
  if (s.command) j["command"] = *s.command;
  if (s.entrypoint) j["entrypoint"] = *s.entrypoint;
  j["environment"] = s.environment;
  if (!s.env_files.empty()) j["env_file"] = s.env_files;
  json ports = json::array();
  for (auto& p : s.ports) {
    json pj = {{"target", p.target}, {"protocol", p.protocol}, {"host_ip", p.host_ip}};
    if (p.published) pj["published"] = p.published;
    ports.push_back(pj);
  }
  j["ports"] = ports;
  j["expose"] = s.expose;
  json vols = json::array();
  for (auto& m : s.volumes) {
    json vj = {{"type", m.type}, {"target", m.target}, {"read_only", m.read_only}};
    if (m.type != "tmpfs") vj["source"] = m.source;
    if (m.type == "tmpfs") vj["tmpfs"] = {{"size", m.tmpfs_size}};
    vols.push_back(vj);
  }
  j["volumes"] = vols;
  j["replicas"] = s.replicas;
  j["resources"] = {{"memory", s.resources.memory}, {"cpus", s.resources.cpus}, {"pids", s.resources.pids}};
  if (s.healthcheck) {
    const auto& h = *s.healthcheck;
    j["healthcheck"] = {{"test", h.test},
                        {"interval", FormatDuration(h.interval_ns)},
                        {"timeout", FormatDuration(h.timeout_ns)},
                        {"start_period", FormatDuration(h.start_period_ns)},
                        {"retries", h.retries},
                        {"disable", h.disable}};
  }
  if (!s.stop_signal.empty()) j["stop_signal"] = s.stop_signal;
  j["stop_grace_period"] = FormatDuration(s.stop_grace_period_ns);
  j["reload_signal"] = s.reload_signal;
  j["restart"] = s.restart.name == "on-failure" && s.restart.max_retries
                     ? "on-failure:" + std::to_string(s.restart.max_retries)
                     : s.restart.name;
  json deps = json::object();
  for (auto& d : s.depends_on) deps[d.service] = {{"condition", d.condition}};
  j["depends_on"] = deps;
  json nets = json::object();
  for (auto& n : s.networks) {
    json nj = json::object();
    if (!n.aliases.empty()) nj["aliases"] = n.aliases;
    if (!n.ipv4_address.empty()) nj["ipv4_address"] = n.ipv4_address;
    nets[n.name] = nj;
  }
  j["networks"] = nets;
  j["labels"] = s.labels;
  if (!s.hostname.empty()) j["hostname"] = s.hostname;
  if (!s.user.empty()) j["user"] = s.user;
  if (!s.working_dir.empty()) j["working_dir"] = s.working_dir;
  if (!s.profiles.empty()) j["profiles"] = s.profiles;
  if (s.service) {
    const auto& d = *s.service;
    json dj = {{"name", d.name}, {"tags", d.tags}, {"meta", d.meta}, {"drain", FormatDuration(d.drain_ns)}};
    if (d.port) dj["port"] = d.port;
    if (d.ignore) dj["ignore"] = true;
    if (d.check) dj["check"] = CheckJson(*d.check);
    j["service"] = dj;
  }
  if (!s.templates.empty()) {
    json tj = json::array();
    for (auto& t : s.templates) tj.push_back({{"source", t.source}, {"destination", t.destination}, {"wait", Wait(t)}});
    j["templates"] = tj;
  }
  if (s.code) {
    const auto& c = *s.code;
    if (!c.from.empty()) {
      j["code"] = {{"from", c.from}};
    } else {
      j["code"] = {{"source", c.source}, {"strategy", c.strategy}};
      if (c.strategy == "rolling") {
        j["code"]["batch"] = c.batch;
        j["code"]["path"] = c.path;
      }
    }
  }
  return j;
}

json NormalizedJson(const AppFile& app) {
  json j = json::object();
  j["name"] = app.name;
  json services = json::object();
  for (auto& [n, s] : app.services) services[n] = ServiceJson(s);
  j["services"] = services;
  json nets = json::object();
  for (auto& [k, n] : app.networks) {
    json nj = {{"name", n.name},
               {"driver", n.driver},
               {"external", n.external},
               {"internal", n.internal},
               {"labels", n.labels}};
    if (!n.subnets.empty()) nj["ipam"] = {{"config", json::array()}};
    for (auto& sn : n.subnets) nj["ipam"]["config"].push_back({{"subnet", sn}});
    nets[k] = nj;
  }
  j["networks"] = nets;
  json vols = json::object();
  for (auto& [k, v] : app.volumes) {
    vols[k] = {{"name", v.name}, {"driver", v.driver}, {"external", v.external}, {"labels", v.labels}};
  }
  j["volumes"] = vols;
  return j;
}

namespace {

// A string YAML would read back as something else (number, bool, null).
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"};
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto* w : kWords) {
    if (lower == w) return true;
  }
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end && *end == '\0') return true;
  return s.find(':') != std::string::npos || s.front() == ' ' || s.back() == ' ';
}

void Emit(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      if (j.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (auto& [k, v] : j.items()) {
        out << YAML::Key << k << YAML::Value;
        Emit(out, v);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      if (j.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (auto& v : j) Emit(out, v);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::value_t::boolean:
      out << j.get<bool>();
      break;
    case json::value_t::number_integer:
      out << j.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << j.dump();
      break;
    default:
      out << YAML::Null;
      break;
  }
}

}  // namespace

std::string NormalizedYaml(const AppFile& app) {
  YAML::Emitter out;
  out << YAML::TrueFalseBool;
  Emit(out, NormalizedJson(app));
  return std::string(out.c_str()) + "\n";
}

std::string ServiceDigest(const ServiceSpec& s) {
  // What the containers are made of: the replica count is scaled without
  // replacing them, and profiles only select services.
  json j = ServiceJson(s);
  j.erase("replicas");
  j.erase("profiles");
  // Where the code comes from on the deploying machine, and how many
  // replicas a rolling deploy replaces at once, are not in the containers.
  if (j.contains("code")) {
    j["code"].erase("source");
    j["code"].erase("batch");
  }
  std::string text = j.dump();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

std::vector<std::string> StartOrder(const AppFile& app) {
  std::map<std::string, int> waiting;  // unmet dependencies
  std::map<std::string, std::vector<std::string>> dependents;
  for (auto& [n, s] : app.services) {
    waiting[n];
    std::set<std::string> deps;
    for (auto& d : s.depends_on) {
      if (d.service != n && app.services.count(d.service) && deps.insert(d.service).second) {
        ++waiting[n];
        dependents[d.service].push_back(n);
      }
    }
  }
  std::set<std::string> ready;
  for (auto& [n, w] : waiting) {
    if (w == 0) ready.insert(n);
  }
  std::vector<std::string> order;
  while (!ready.empty()) {
    std::string n = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(n);
    for (auto& d : dependents[n]) {
      if (--waiting[d] == 0) ready.insert(d);
    }
  }
  for (auto& [n, w] : waiting) {  // cycles (rejected by validation): last, by name
    if (w > 0) order.push_back(n);
  }
  return order;
}

}  // namespace moor::app
