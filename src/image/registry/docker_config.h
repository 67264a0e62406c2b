// Credentials from Docker's client config (~/.docker/config.json, or
// $DOCKER_CONFIG/config.json), read the way the docker CLI reads them:
//   "auths": {"<key>": {"auth": base64("user:pass")} | {"username", "password"}}
// where <key> may be "host", "https://host", "http://host/v1/", and docker.io
// is stored as "https://index.docker.io/v1/"; "credHelpers": {"host": "x"} and
// "credsStore": "x" run `docker-credential-x get` with the server URL on stdin.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::image::registry {

struct Credentials {
  std::string username;
  std::string password;
  // A refresh token from a helper (username "<token>"); sent as OAuth refresh
  // tokens are not supported, it is used as the Basic password instead.
  bool identity_token = false;
};

// The config file to use: `override` when set, else $DOCKER_CONFIG/config.json,
// else $HOME/.docker/config.json.
std::string DockerConfigPath(const std::string& override_path);

// The key Docker stores a registry under: "https://index.docker.io/v1/" for
// docker.io (and its aliases), else the registry host[:port] as given.
std::string ConfigKeyFor(std::string_view registry);
// A config "auths" key reduced to host[:port] ("https://h:5000/v1/" → "h:5000");
// docker.io aliases map to "docker.io".
std::string NormalizeConfigKey(std::string_view key);

// Credentials for `registry` (a reference domain: "docker.io", "h:5000").
// nullopt when the config has none; an unreadable or malformed config file
// is an error naming the file (a missing file is not).
Result<std::optional<Credentials>> LookupCredentials(const std::string& config_path, std::string_view registry);
// As above, from the config text (for tests and for Login's rewrite).
Result<std::optional<Credentials>> LookupCredentialsIn(std::string_view config_json, std::string_view registry);

// Runs `docker-credential-<helper> get`, writing server_url to its stdin;
// nullopt when the helper has no credentials for it.
Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper, const std::string& server_url);

}  // namespace moor::image::registry
