// moor login / logout: the credentials are checked against the registry, then
// written into the Docker config file the way `docker login` writes them, so
// both tools share one login.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "image/registry/docker_config.h"
#include "image/registry/endpoint.h"
#include "image/registry/registry_client.h"
#include "image/registry/url.h"

namespace moor::image {
namespace {

using json = nlohmann::json;

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

Result<json> ReadConfig(const std::string& path) {
  if (!PathExists(path)) return json::object();
  std::string text = TRY(ReadFile(path));
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return FailInvalid(path + ": not a JSON object (fix or remove the file)");
  }
  return doc;
}

Result<void> WriteConfig(const std::string& path, const json& doc) {
  TRY(MkdirAll(ParentDir(path), 0700));
  // WriteFileAtomic creates the file 0600: credentials are secrets.
  return WriteFileAtomic(path, doc.dump(1, '\t') + "\n");
}

// The registry host as a reference would name it: "docker.io" for any of
// Docker Hub's names, "host:port" otherwise (scheme and path dropped).
std::string RegistryDomain(const std::string& registry) {
  return registry::NormalizeConfigKey(registry.empty() ? "docker.io" : registry);
}

std::string ConnectHost(const std::string& domain) {
  return domain == "docker.io" ? "registry-1.docker.io" : domain;
}

}  // namespace

Result<void> Login(const std::string& registry, const std::string& user, const std::string& password,
                   const RegistryOptions& opts) {
  if (user.empty()) return FailInvalid("login: a user name is required");
  if (password.empty()) return FailInvalid("login: a password is required");
  std::string domain = RegistryDomain(registry);
  auto ep = TRY(registry::Endpoint::Create(ConnectHost(domain), domain, opts));
  TRY(ep->CheckCredentials(registry::Credentials{user, password, false}));

  std::string path = registry::DockerConfigPath(opts.docker_config);
  json doc = TRY(ReadConfig(path));
  if (!doc.contains("auths") || !doc["auths"].is_object()) doc["auths"] = json::object();
  json& auths = doc["auths"];
  // One entry per registry: drop other spellings of the same host first.
  for (auto it = auths.begin(); it != auths.end();) {
    if (registry::NormalizeConfigKey(it.key()) == domain) {
      it = auths.erase(it);
    } else {
      ++it;
    }
  }
  auths[registry::ConfigKeyFor(domain)] = json{{"auth", registry::Base64Encode(user + ":" + password)}};
  TRY_CTX(WriteConfig(path, doc), "save credentials");
  return {};
}

Result<bool> Logout(const std::string& registry, const RegistryOptions& opts) {
  std::string domain = RegistryDomain(registry);
  std::string path = registry::DockerConfigPath(opts.docker_config);
  json doc = TRY(ReadConfig(path));
  bool removed = false;
  if (auto auths = doc.find("auths"); auths != doc.end() && auths->is_object()) {
    for (auto it = auths->begin(); it != auths->end();) {
      if (registry::NormalizeConfigKey(it.key()) == domain) {
        it = auths->erase(it);
        removed = true;
      } else {
        ++it;
      }
    }
  }
  if (!removed) return false;  // as Docker: not an error
  TRY_CTX(WriteConfig(path, doc), "save credentials");
  return true;
}

}  // namespace moor::image
