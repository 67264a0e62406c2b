// moor.yaml: the app file (a compatible subset of docker-compose.yml is read
// too). LoadAppFile parses, validates (every error collected, each
// "FILE:LINE:COLUMN: message — hint") and normalises: defaults filled in,
// short forms expanded, relative host paths made absolute. The normalised
// form printed by `moor config` is NormalizedJson/NormalizedYaml.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::app {

// Where a value was written (1-based; 0: not from the file).
struct Pos {
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  std::string file;
  Pos pos;
  std::string message;
  std::string hint;
  // "FILE:LINE:COLUMN: message — hint"
  std::string ToString() const;
};

struct BuildSpec {
  std::string context;                    // absolute host path
  std::string dockerfile = "Dockerfile";  // relative to the context
  std::map<std::string, std::string> args;
  Pos pos;
};

// A port published on the host ("80" alone: on an ephemeral host port).
struct PortSpec {
  std::string host_ip;     // "" = every address
  uint16_t published = 0;  // 0 = an ephemeral host port
  uint16_t target = 0;
  std::string protocol = "tcp";
  Pos pos;
};

struct MountSpec {
  std::string type;    // volume | bind | tmpfs
  std::string source;  // volume name ("" = anonymous), absolute host path for bind
  std::string target;  // absolute path in the container
  bool read_only = false;
  int64_t tmpfs_size = 0;  // bytes, 0 = default
  Pos pos;
};

struct Resources {
  int64_t memory = 0;  // bytes, 0 = unlimited
  double cpus = 0;     // 0 = unlimited
  int64_t pids = 0;    // 0 = unlimited
};

struct Healthcheck {
  std::vector<std::string> test;  // ["CMD", ...], ["CMD-SHELL", cmd], ["NONE"]; empty = the image's
  int64_t interval_ns = 30'000'000'000;
  int64_t timeout_ns = 30'000'000'000;
  int64_t start_period_ns = 0;
  int retries = 3;
  bool disable = false;
};

struct RestartPolicy {
  std::string name = "no";  // no | always | on-failure | unless-stopped
  int max_retries = 0;      // on-failure:N
};

struct Dependency {
  std::string service;
  std::string condition = "service_started";  // | service_healthy | service_completed_successfully
  Pos pos;
};

struct ServiceNetwork {
  std::string name;
  std::vector<std::string> aliases;
  std::string ipv4_address;
  Pos pos;
};

// The discovery registration (docs/discovery.md's moor.service* / moor.check* labels).
struct CheckSpec {
  std::string type;  // tcp | http | https | fastcgi | exec | ttl | docker | none; "" = discovery's default
  std::string path;  // http/https/fastcgi path, exec command
  int port = 0;
  int64_t interval_ns = 0;  // 0 = discovery's default
  int64_t timeout_ns = 0;
  int status = 0;
  std::string body;
  int success_before_passing = 0;
  int failures_before_critical = 0;
  int64_t deregister_critical_after_ns = 0;
  int64_t ttl_ns = 0;
  bool tls_skip_verify = false;
};

struct DiscoverySpec {
  std::string name;  // defaults to the service's name
  int port = 0;      // 0 = discovery picks (every exposed port)
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  int64_t drain_ns = 0;
  bool ignore = false;
  std::optional<CheckSpec> check;
};

struct TemplateSpec {
  std::string source;       // absolute host path (copied into the container)
  std::string destination;  // absolute path in the container
  int64_t wait_min_ns = 200'000'000;
  int64_t wait_max_ns = 2'000'000'000;
  Pos pos;
};

// The service's `code:` block (docs/design/deploy.md §3): the code directory
// `moor deploy` ships as releases, and how a release reaches the containers.
// Every container of the service gets ROOT/deploy/releases/APP/SVC read-only
// at /srv/releases; reload serves /srv/releases/current, rolling pins each
// container to one release at `path`. With `from`, the service mounts the
// releases of that service (read-only, never signalled) and sets nothing else.
struct CodeSpec {
  std::string source;               // absolute host path of the code directory ("" with from)
  std::string strategy = "reload";  // reload | rolling
  int batch = 1;                    // rolling: replicas replaced at a time (≥ 1)
  std::string path = "/srv/app";    // rolling: where the release is mounted (absolute)
  std::string from;                 // another service whose releases are mounted ("" = none)
  Pos pos;                          // the from value when given, else the code block
};

struct ServiceSpec {
  std::string name;
  std::string image;  // with build and no image: "PROJECT-SERVICE", the tag the build gets
  std::optional<BuildSpec> build;
  std::optional<std::vector<std::string>> command;     // nullopt: the image's
  std::optional<std::vector<std::string>> entrypoint;  // nullopt: the image's
  std::map<std::string, std::string> environment;      // env_file entries merged in, environment wins
  std::vector<std::string> env_files;                  // absolute paths (already read)
  std::vector<PortSpec> ports;
  std::vector<uint16_t> expose;
  std::vector<MountSpec> volumes;  // tmpfs: entries included as type tmpfs
  int replicas = 1;
  Resources resources;
  std::optional<Healthcheck> healthcheck;
  std::string stop_signal;  // "" = the image's (else SIGTERM)
  int64_t stop_grace_period_ns = 10'000'000'000;
  std::string reload_signal = "SIGHUP";  // sent after a template re-render; "none"
  RestartPolicy restart;
  std::vector<Dependency> depends_on;
  std::vector<ServiceNetwork> networks;  // ["default"] when none given
  std::map<std::string, std::string> labels;
  std::string hostname, user, working_dir;
  std::vector<std::string> profiles;
  std::optional<DiscoverySpec> service;  // moor's discovery block
  std::vector<TemplateSpec> templates;
  std::optional<CodeSpec> code;  // the `code:` block (moor deploy)
  Pos pos;             // the service's key
  Pos depends_on_pos;  // its depends_on key (cycles are reported there)
  Pos image_pos;       // its image value (a missing image is reported there)
};

struct NetworkSpec {
  std::string name;  // the network's real name (default PROJECT_KEY)
  std::string driver = "bridge";
  bool external = false;
  bool internal = false;
  std::vector<std::string> subnets;
  std::map<std::string, std::string> labels;
};

struct VolumeSpec {
  std::string name;  // the volume's real name (default PROJECT_KEY)
  std::string driver = "local";
  bool external = false;
  std::map<std::string, std::string> labels;
};

struct AppFile {
  std::string path;                             // absolute
  std::string dir;                              // its directory: relative paths are resolved against it
  std::string name;                             // project name: `name`, else the directory's name
  std::map<std::string, ServiceSpec> services;  // the enabled ones (profiles applied)
  std::map<std::string, NetworkSpec> networks;  // by key; "default" always present
  std::map<std::string, VolumeSpec> volumes;    // by key
};

// Parses and validates `text` as the file at `path` (used for messages and to
// resolve relative paths). Every problem found is appended to `errors`; the
// result is meaningful only when none was. `profiles`: the active profiles
// ("*" = all); services without profiles are always enabled.
AppFile ParseAppFile(const std::string& text, const std::string& path, const std::vector<std::string>& profiles,
                     std::vector<Diagnostic>* errors);
// Reads, parses and validates the file; the errors joined by '\n'.
Result<AppFile> LoadAppFile(const std::string& path, const std::vector<std::string>& profiles = {});
// moor.yaml, moor.yml, compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in
// `dir`, the first that exists.
Result<std::string> FindAppFile(const std::string& dir);

// Services in start order: a service after everything it depends on; ties in
// name order (stable for the same file).
std::vector<std::string> StartOrder(const AppFile& app);

// The normalised forms (deterministic: keys sorted).
nlohmann::json ServiceJson(const ServiceSpec& s);  // without the name (the key)
nlohmann::json NormalizedJson(const AppFile& app);
std::string NormalizedYaml(const AppFile& app);
// sha256 hex of ServiceJson(s) without replicas, profiles, code.source and
// code.batch: changes exactly when what a container is made of does (scaling
// does not change it).
std::string ServiceDigest(const ServiceSpec& s);

// The service's discovery block and templates as the container labels
// docs/discovery.md describes (moor.service*, moor.check*, moor.template.*,
// moor.reload.signal). Template i is expected at TemplatePath(template_dir, s, i)
// inside the container (the caller copies its source there).
std::map<std::string, std::string> DiscoveryLabels(const ServiceSpec& s, const std::string& template_dir);
std::string TemplatePath(const std::string& template_dir, const ServiceSpec& s, size_t i);

// Helpers shared with the CLI and the tests.
std::string FormatDuration(int64_t ns);  // "1m30s", "500ms", "0s"
// Shell-like word splitting: quotes and backslashes as sh reads them, no expansion.
Result<std::vector<std::string>> ShellWords(const std::string& s);

}  // namespace moor::app
