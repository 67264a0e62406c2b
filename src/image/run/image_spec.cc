#include "image/run/image_spec.h"

#include <algorithm>
#include <cctype>

#include "image/run/user_lookup.h"
#include "runtime/ops.h"

namespace moor::image {

namespace {

std::string_view EnvKey(std::string_view kv) {
  return kv.substr(0, kv.find('='));
}

void SetEnv(std::vector<std::string>& env, const std::string& kv) {
  std::string_view key = EnvKey(kv);
  for (auto& e : env) {
    if (EnvKey(e) == key) {
      e = kv;
      return;
    }
  }
  env.push_back(kv);
}

bool HasEnv(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (EnvKey(e) == key) return true;
  return false;
}

void RemoveNamespace(oci::Spec& spec, std::string_view type) {
  std::erase_if(spec.linux.namespaces, [&](const oci::Namespace& n) { return n.type == type; });
}

Result<std::string> WorkingDir(const ContainerConfig& cfg, const RunRequest& req) {
  if (!req.workdir.empty()) {
    if (req.workdir.front() != '/')
      return FailInvalid("the working directory \"" + req.workdir +
                         "\" is invalid: it must be an absolute path");
    return req.workdir;
  }
  if (cfg.working_dir.empty()) return std::string("/");
  // Old builders wrote relative WORKDIRs; Docker takes them from /.
  return cfg.working_dir.front() == '/' ? cfg.working_dir : "/" + cfg.working_dir;
}

Result<void> AddBinds(oci::Spec& spec, const RunRequest& req) {
  for (size_t i = 0; i < req.binds.size(); ++i) {
    const BindMount& b = req.binds[i];
    if (b.source.empty() || b.source.front() != '/')
      return FailInvalid("bind mount " + std::to_string(i + 1) + ": source \"" + b.source +
                         "\" must be an absolute host path");
    if (b.destination.empty() || b.destination.front() != '/')
      return FailInvalid("bind mount " + std::to_string(i + 1) + ": destination \"" + b.destination +
                         "\" must be an absolute path in the container");
    spec.mounts.push_back({b.destination, "bind", b.source, {"rbind", b.read_only ? "ro" : "rw"}});
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> ProcessArgs(const ContainerConfig& cfg, const RunRequest& req) {
  std::vector<std::string> args =
      req.entrypoint ? *req.entrypoint : cfg.entrypoint.value_or(std::vector<std::string>{});
  const std::vector<std::string>* cmd = nullptr;
  if (!req.args.empty())
    cmd = &req.args;
  else if (!req.entrypoint && cfg.cmd)
    cmd = &*cfg.cmd;  // an overridden entrypoint does not inherit the image's Cmd
  if (cmd) args.insert(args.end(), cmd->begin(), cmd->end());
  if (args.empty())
    return FailInvalid(
        "no command specified: the image has no CMD or ENTRYPOINT; give one after the image name");
  return args;
}

Result<std::vector<std::string>> ProcessEnv(const ContainerConfig& cfg, const RunRequest& req,
                                            const std::string& hostname) {
  std::vector<std::string> env;
  for (const auto& e : cfg.env) SetEnv(env, e);
  if (!hostname.empty() && !HasEnv(env, "HOSTNAME")) env.push_back("HOSTNAME=" + hostname);
  for (const auto& e : req.env) {
    if (e.find('=') == std::string::npos || e.front() == '=')
      return FailInvalid("environment variable \"" + e + "\": expected KEY=VALUE");
    SetEnv(env, e);
  }
  if (!HasEnv(env, "PATH")) env.emplace_back(kDefaultPath);
  if (req.tty && !HasEnv(env, "TERM")) env.emplace_back("TERM=xterm");
  return env;
}

Result<oci::Spec> SpecForImage(const ImageConfig& image, const RunRequest& req) {
  const ContainerConfig& cfg = image.config;
  oci::Spec spec = TRY_CTX(oci::ParseSpec(runtime::DefaultSpecJson(false)), "runtime default spec");
  if (!spec.process) return FailInvalid("runtime default spec has no process");
  oci::Process& p = *spec.process;

  p.terminal = req.tty;
  p.args = TRY(ProcessArgs(cfg, req));
  p.cwd = TRY(WorkingDir(cfg, req));

  if (req.host_network) {
    if (!req.hostname.empty())
      return FailInvalid("a hostname cannot be set with host networking: the container uses the host's");
    // Docker's host mode shares the UTS namespace too, so `hostname` agrees
    // with the network identity; the runtime must then not set one.
    RemoveNamespace(spec, "network");
    RemoveNamespace(spec, "uts");
    spec.hostname.clear();
    for (const char* f : {"/etc/resolv.conf", "/etc/hosts"})
      spec.mounts.push_back({f, "bind", f, {"rbind", "ro"}});
  } else {
    spec.hostname = !req.hostname.empty() ? req.hostname : req.id.empty() ? "moor" : req.id.substr(0, 12);
  }
  p.env = TRY(ProcessEnv(cfg, req, spec.hostname));

  std::string user = req.user.empty() ? cfg.user : req.user;
  if (req.rootfs.empty() &&
      !std::all_of(user.begin(), user.end(), [](char c) { return c == ':' || (c >= '0' && c <= '9'); }))
    return FailInvalid("user \"" + user + "\": a user name needs the rootfs to look it up");
  p.user = TRY(ResolveUser(req.rootfs, user));

  spec.root.path = req.rootfs.empty() ? "rootfs" : req.rootfs;
  spec.root.readonly = req.read_only_rootfs;
  TRY(AddBinds(spec, req));
  return spec;
}

}  // namespace moor::image
