#include "image/registry/tls.h"

#include <dirent.h>

#include <algorithm>

#include "common/file.h"

namespace moor::image::registry {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Sorted names, so the combined bundle and the chosen key pair are stable.
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<TlsConfig> LoadTlsConfig(const std::vector<std::string>& cert_dirs, const std::string& host,
                                const std::string& system_bundle) {
  TlsConfig cfg;
  std::string extra;
  for (const std::string& base : cert_dirs) {
    std::string dir = base + "/" + host;
    for (const std::string& name : ListDir(dir)) {
      std::string path = dir + "/" + name;
      if (EndsWith(name, ".crt")) {
        std::string pem = TRY_CTX(ReadFile(path), "registry CA certificate");
        extra += pem;
        if (!extra.empty() && extra.back() != '\n') extra += '\n';
      } else if (EndsWith(name, ".cert") && cfg.client_cert.empty()) {
        std::string key = path.substr(0, path.size() - 5) + ".key";
        if (!PathExists(key)) {
          return FailInvalid("client certificate " + path + " has no matching key " + key);
        }
        cfg.client_cert = path;
        cfg.client_key = key;
      } else if (EndsWith(name, ".key") && !PathExists(path.substr(0, path.size() - 4) + ".cert")) {
        return FailInvalid("client key " + path + " has no matching certificate " + path.substr(0, path.size() - 4) +
                           ".cert");
      }
    }
  }
  if (!extra.empty()) {
    if (PathExists(system_bundle)) {
      cfg.ca_pem = TRY_CTX(ReadFile(system_bundle), "system CA bundle");
      if (!cfg.ca_pem.empty() && cfg.ca_pem.back() != '\n') cfg.ca_pem += '\n';
    }
    cfg.ca_pem += extra;
  }
  return cfg;
}

}  // namespace moor::image::registry
