#include "image/registry/docker_config.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/fd.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/registry/url.h"

extern char** environ;

namespace moor::image::registry {
namespace {

using json = nlohmann::json;

constexpr std::string_view kDockerIndexKey = "https://index.docker.io/v1/";

bool IsDockerHub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" ||
         host == "registry.hub.docker.com";
}

std::string StringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

Result<std::optional<Credentials>> FromAuthEntry(const json& entry, const std::string& key) {
  if (!entry.is_object()) return std::optional<Credentials>();
  Credentials c;
  std::string auth = StringField(entry, "auth");
  if (!auth.empty()) {
    std::string decoded;
    if (!Base64Decode(auth, decoded)) return FailInvalid("auths[\"" + key + "\"].auth: not valid base64");
    size_t colon = decoded.find(':');
    if (colon == std::string::npos) {
      return FailInvalid("auths[\"" + key + "\"].auth: expected base64 of \"user:password\"");
    }
    c.username = decoded.substr(0, colon);
    c.password = decoded.substr(colon + 1);
  } else {
    c.username = StringField(entry, "username");
    c.password = StringField(entry, "password");
  }
  std::string identity = StringField(entry, "identitytoken");
  if (c.username.empty() && !identity.empty()) {
    c.username = "<token>";
    c.password = identity;
    c.identity_token = true;
  }
  if (c.username.empty() && c.password.empty()) return std::optional<Credentials>();
  return std::optional<Credentials>(std::move(c));
}

// The server URL a credential helper is asked about.
std::string HelperServerUrl(std::string_view registry) {
  if (IsDockerHub(NormalizeConfigKey(registry))) return std::string(kDockerIndexKey);
  return std::string(registry);
}

}  // namespace

std::string DockerConfigPath(const std::string& override_path) {
  if (!override_path.empty()) return override_path;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/config.json";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/root") + "/.docker/config.json";
}

std::string NormalizeConfigKey(std::string_view key) {
  std::string_view k = Trim(key);
  if (size_t sep = k.find("://"); sep != std::string_view::npos) k = k.substr(sep + 3);
  if (size_t slash = k.find('/'); slash != std::string_view::npos) k = k.substr(0, slash);
  std::string host(k);
  if (IsDockerHub(host)) return "docker.io";
  return host;
}

std::string ConfigKeyFor(std::string_view registry) {
  std::string host = NormalizeConfigKey(registry);
  if (host == "docker.io") return std::string(kDockerIndexKey);
  return host;
}

Result<std::optional<Credentials>> LookupCredentialsIn(std::string_view config_json, std::string_view registry) {
  json doc = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return FailInvalid("not a JSON object");
  std::string want = NormalizeConfigKey(registry);

  // A per-registry helper wins, then the global store, then inline auths (as docker does).
  if (auto helpers = doc.find("credHelpers"); helpers != doc.end() && helpers->is_object()) {
    for (const auto& [key, helper] : helpers->items()) {
      if (helper.is_string() && NormalizeConfigKey(key) == want) {
        return RunCredentialHelper(helper.get<std::string>(), HelperServerUrl(registry));
      }
    }
  }
  if (std::string store = StringField(doc, "credsStore"); !store.empty()) {
    return RunCredentialHelper(store, HelperServerUrl(registry));
  }
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) return std::optional<Credentials>();
  // An exact key match first, then any key that normalises to the host.
  if (auto exact = auths->find(std::string(registry)); exact != auths->end()) {
    auto c = TRY(FromAuthEntry(*exact, std::string(registry)));
    if (c) return c;
  }
  for (const auto& [key, entry] : auths->items()) {
    if (NormalizeConfigKey(key) != want) continue;
    auto c = TRY(FromAuthEntry(entry, key));
    if (c) return c;
  }
  return std::optional<Credentials>();
}

Result<std::optional<Credentials>> LookupCredentials(const std::string& config_path, std::string_view registry) {
  if (!PathExists(config_path)) return std::optional<Credentials>();
  std::string text = TRY(ReadFile(config_path));
  return TRY_CTX(LookupCredentialsIn(text, registry), config_path);
}

Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper, const std::string& server_url) {
  std::string prog = "docker-credential-" + helper;
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd in_r(in_pipe[0]), in_w(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  std::string verb = "get";
  char* argv[] = {prog.data(), verb.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return Fail(Error::FromErrno(
        rc, "run credential helper " + prog + " (named by credsStore/credHelpers in the docker config)"));
  }
  in_r.Reset();
  out_w.Reset();
  std::string input = server_url + "\n";
  // The helper reads a few bytes; a broken pipe (it exited early) shows in its status.
  (void)!::write(in_w.get(), input.data(), input.size());
  in_w.Reset();
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out_r.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < (1 << 20)) output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Helpers say "credentials not found in native keychain" for unknown servers.
    if (output.find("not found") != std::string::npos) return std::optional<Credentials>();
    return FailInvalid(prog + " get failed for " + server_url + ": " + std::string(Trim(output)));
  }
  json doc = json::parse(output, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return FailInvalid(prog + " get: output is not a JSON object");
  Credentials c;
  c.username = StringField(doc, "Username");
  c.password = StringField(doc, "Secret");
  c.identity_token = c.username == "<token>";
  if (c.username.empty() && c.password.empty()) return std::optional<Credentials>();
  return std::optional<Credentials>(std::move(c));
}

}  // namespace moor::image::registry
