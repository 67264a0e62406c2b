#include "app/code_release.h"

#include <openssl/evp.h>

#include "app/app_backend.h"
#include "app/up_plan.h"

namespace moor::app {

using nlohmann::json;

std::string ReleaseDigest(const std::string& base_digest, int64_t release) {
  std::string text = base_digest + "\nrelease " + std::to_string(release);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

void PinRelease(json* body, const ReleasePin& p) {
  json& b = *body;
  const std::string n = std::to_string(p.release);
  const std::string placeholder = ContainerName(p.app, p.service, 0);
  const std::string name = ContainerName(p.app, p.service, p.replica);
  if (b.contains("NetworkingConfig") && b["NetworkingConfig"].contains("EndpointsConfig")) {
    for (auto& [net, ep] : b["NetworkingConfig"]["EndpointsConfig"].items()) {
      (void)net;
      if (!ep.contains("Aliases") || !ep["Aliases"].is_array()) continue;
      for (auto& a : ep["Aliases"]) {
        if (a.is_string() && a.get<std::string>() == placeholder) a = name;
      }
    }
  }
  json& labels = b["Labels"];
  if (!labels.is_object()) labels = json::object();
  labels[kLabelReplica] = std::to_string(p.replica);
  labels[kLabelRelease] = n;
  labels[kLabelReleaseMeta] = n;
  if (p.code_path.empty()) {
    // A reload service's containers outlive releases: the digest stays the service's.
    labels[kLabelDigest] = p.base_digest;
    return;
  }
  labels[kLabelDigest] = ReleaseDigest(p.base_digest, p.release);
  json& env = b["Env"];
  if (!env.is_array()) env = json::array();
  json kept = json::array();
  for (auto& e : env) {
    if (!(e.is_string() && e.get<std::string>().rfind("MOOR_RELEASE=", 0) == 0)) kept.push_back(e);
  }
  kept.push_back("MOOR_RELEASE=" + n);
  env = kept;
  json& host = b["HostConfig"];
  if (!host.is_object()) host = json::object();
  json mounts = json::array();
  if (host.contains("Mounts") && host["Mounts"].is_array()) {
    for (auto& m : host["Mounts"]) {
      if (!(m.contains("Target") && m["Target"] == p.code_path)) mounts.push_back(m);
    }
  }
  mounts.push_back({{"Type", "bind"}, {"Source", p.releases_dir + "/" + n}, {"Target", p.code_path}, {"ReadOnly", true}});
  host["Mounts"] = mounts;
}

}  // namespace moor::app
