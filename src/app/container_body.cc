// A service of the app file → the daemon's create body, labels and digest.
#include "app/container_body.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>

#include "app/app_backend.h"
#include "app/code_release.h"
#include "app/up_plan.h"

namespace moor::app {

namespace {

using nlohmann::json;

constexpr int64_t kSecondNs = 1'000'000'000;

// "80/tcp"
std::string PortKey(uint16_t port, const std::string& protocol) {
  return std::to_string(port) + "/" + (protocol.empty() ? "tcp" : protocol);
}

json MountJson(const AppFile& app, const MountSpec& m) {
  json j = {{"Type", m.type}, {"Target", m.target}, {"ReadOnly", m.read_only}};
  if (m.type == "tmpfs") {
    if (m.tmpfs_size > 0) j["TmpfsOptions"] = {{"SizeBytes", m.tmpfs_size}};
  } else if (m.type == "volume") {
    // A key of the file's volumes: its real name; "" stays anonymous.
    auto it = m.source.empty() ? app.volumes.end() : app.volumes.find(m.source);
    j["Source"] = it == app.volumes.end() ? m.source : it->second.name;
  } else {
    j["Source"] = m.source;
  }
  return j;
}

json HealthJson(const Healthcheck& h) {
  if (h.disable) return {{"Test", json::array({"NONE"})}};
  json j = {{"Interval", h.interval_ns},
            {"Timeout", h.timeout_ns},
            {"StartPeriod", h.start_period_ns},
            {"Retries", h.retries}};
  // No test: the image's test with these timings (Docker's rule).
  if (!h.test.empty()) j["Test"] = h.test;
  return j;
}

std::string NetworkName(const AppFile& app, const std::string& key) {
  auto it = app.networks.find(key);
  return it == app.networks.end() ? key : it->second.name;
}

void AddUnique(json& list, const std::string& v) {
  for (const auto& e : list)
    if (e == v) return;
  list.push_back(v);
}

std::string Sha256Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

// "LENGTH:BYTES": a sequence of these parses back one way only.
void AppendField(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

json ContainerBody(const AppFile& app, const ServiceSpec& s, int replica, const std::string& digest,
                   const std::optional<CodeBinding>& code) {
  const std::string container = ContainerName(app.name, s.name, replica);
  // The code binding applies to a service with a code: block only. A rolling
  // container is pinned to its release; reload and from containers see `current`.
  const bool has_code = code && s.code;
  const bool rolling = has_code && s.code->from.empty() && s.code->strategy == "rolling";
  const bool pinned = rolling && code->release > 0;
  const std::string release = pinned ? std::to_string(code->release) : "";

  json body = json::object();
  body["Image"] = s.image;
  if (s.command) body["Cmd"] = *s.command;
  if (s.entrypoint) body["Entrypoint"] = *s.entrypoint;
  std::map<std::string, std::string> environment = s.environment;
  if (pinned) {
    environment["MOOR_RELEASE"] = release;
  } else if (has_code && !rolling) {
    environment["MOOR_CODE"] = std::string(kReleasesMount) + "/current";
  }
  json env = json::array();
  for (const auto& [k, v] : environment) env.push_back(k + "=" + v);  // the map keeps them sorted
  body["Env"] = env;
  if (!s.hostname.empty()) body["Hostname"] = s.hostname;
  if (!s.user.empty()) body["User"] = s.user;
  if (!s.working_dir.empty()) body["WorkingDir"] = s.working_dir;

  json exposed = json::object();
  for (uint16_t p : s.expose) exposed[PortKey(p, "tcp")] = json::object();
  json bindings = json::object();
  for (const auto& p : s.ports) {
    std::string key = PortKey(p.target, p.protocol);
    exposed[key] = json::object();
    bindings[key].push_back(
        {{"HostIp", p.host_ip}, {"HostPort", p.published ? std::to_string(p.published) : std::string()}});
  }
  if (!exposed.empty()) body["ExposedPorts"] = exposed;

  if (s.healthcheck) body["Healthcheck"] = HealthJson(*s.healthcheck);
  if (!s.stop_signal.empty()) body["StopSignal"] = s.stop_signal;
  body["StopTimeout"] = (std::max<int64_t>(s.stop_grace_period_ns, 0) + kSecondNs - 1) / kSecondNs;

  // Labels, later ones winning: the default registration name, the file's
  // labels, the discovery block and templates, then the app's own.
  std::map<std::string, std::string> labels;
  if (!s.service) labels["moor.service"] = s.name;
  for (const auto& [k, v] : s.labels) labels[k] = v;
  for (auto& [k, v] : DiscoveryLabels(s, kTemplateDir)) labels[k] = std::move(v);
  for (auto& [k, v] : AppObjectLabels(app)) labels[k] = std::move(v);
  labels[kLabelService] = s.name;
  labels[kLabelReplica] = std::to_string(replica);
  labels[kLabelDigest] = digest;
  if (pinned) {
    labels[kLabelRelease] = release;
    labels[kLabelReleaseMeta] = release;
  }
  body["Labels"] = labels;

  json host = json::object();
  json mounts = json::array();
  for (const auto& m : s.volumes) mounts.push_back(MountJson(app, m));
  // Releases are hardlink trees of shared, immutable blobs: never writable.
  auto read_only_bind = [](const std::string& source, const std::string& target) {
    return json{{"Type", "bind"}, {"Source", source}, {"Target", target}, {"ReadOnly", true}};
  };
  if (has_code) mounts.push_back(read_only_bind(code->releases_dir, kReleasesMount));
  if (pinned) mounts.push_back(read_only_bind(code->releases_dir + "/" + release, s.code->path));
  host["Mounts"] = mounts;
  if (!bindings.empty()) host["PortBindings"] = bindings;
  if (s.resources.memory > 0) host["Memory"] = s.resources.memory;
  if (s.resources.cpus > 0) host["NanoCpus"] = std::llround(s.resources.cpus * 1e9);
  if (s.resources.pids > 0) host["PidsLimit"] = s.resources.pids;
  host["RestartPolicy"] = {{"Name", s.restart.name},
                           {"MaximumRetryCount", s.restart.name == "on-failure" ? s.restart.max_retries : 0}};

  json endpoints = json::object();
  for (const auto& n : s.networks) {
    json aliases = json::array();
    AddUnique(aliases, s.name);
    AddUnique(aliases, container);
    for (const auto& a : n.aliases) AddUnique(aliases, a);
    json ep = {{"Aliases", aliases}};
    if (!n.ipv4_address.empty()) ep["IPAMConfig"] = {{"IPv4Address", n.ipv4_address}};
    endpoints[NetworkName(app, n.name)] = ep;
  }
  if (!s.networks.empty()) host["NetworkMode"] = NetworkName(app, s.networks.front().name);
  body["HostConfig"] = host;
  if (!endpoints.empty()) body["NetworkingConfig"] = {{"EndpointsConfig", endpoints}};
  return body;
}

std::map<std::string, std::string> AppObjectLabels(const AppFile& app) {
  return {{kLabelApp, app.name}, {kLabelFile, app.path}};
}

std::string ContainerDigest(const ServiceSpec& s, const std::string& image_id,
                            const std::vector<std::string>& template_contents) {
  std::string text;
  AppendField(text, ServiceDigest(s));
  AppendField(text, image_id);
  AppendField(text, std::to_string(template_contents.size()));
  for (const auto& t : template_contents) AppendField(text, t);
  return Sha256Hex(text);
}

}  // namespace moor::app
