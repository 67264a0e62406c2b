// Checks across services: references, depends_on cycles, code blocks, port
// conflicts, build contexts, networks and volumes declared.
#include <algorithm>
#include <filesystem>
#include <functional>

#include "app/app_internal.h"
#include "app/code_release.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::app::detail {

namespace {

void CheckReferences(const Ctx& ctx, const ParsedFile& parsed, const std::set<std::string>& enabled) {
  const auto& services = parsed.app.services;
  std::vector<std::string_view> names;
  for (auto& [n, s] : services) names.push_back(n);
  for (auto& [name, s] : services) {
    std::string where = "services." + name;
    for (auto& d : s.depends_on) {
      auto it = services.find(d.service);
      if (it == services.end()) {
        std::string near = Closest(d.service, names);
        ctx.Error(
            d.pos, where + ".depends_on: unknown service \"" + d.service + "\"",
            near.empty() ? "declare it under services: or remove the dependency" : "did you mean \"" + near + "\"?");
      } else if (d.service == name) {
        ctx.Error(d.pos, where + ".depends_on: the service depends on itself", "remove it from its own depends_on");
      } else if (enabled.count(name) && !enabled.count(d.service)) {
        ctx.Error(d.pos, where + ".depends_on: \"" + d.service + "\" is not enabled by the active profiles",
                  "activate one of its profiles (" + Join(it->second.profiles, ", ") + ") with --profile");
      }
    }
    for (auto& m : s.volumes) {
      if (m.type == "volume" && !m.source.empty() && !parsed.declared_volumes.count(m.source)) {
        ctx.Error(m.pos, where + ".volumes: volume \"" + m.source + "\" is not declared",
                  "add it under the top-level volumes: (\"" + m.source + ": {}\"), or write ./" + m.source +
                      " for a bind mount");
      }
    }
    for (auto& n : s.networks) {
      if (!parsed.declared_networks.count(n.name)) {
        ctx.Error(n.pos, where + ".networks: network \"" + n.name + "\" is not declared",
                  "add it under the top-level networks:");
      }
    }
    if (s.networks.size() > 1) {
      ctx.Error(s.networks[1].pos, where + ".networks: a service can join one network for now (it has " +
                                       std::to_string(s.networks.size()) + ")",
                "keep one network per service; services of the app reach each other through it");
    }
    if (s.resources.memory > 0 && s.resources.memory < (6 << 20)) {
      ctx.Error(s.pos, where + ".resources.memory: " + std::to_string(s.resources.memory) + " bytes is below 6m",
                "give at least 6m (the kernel needs that much for a container)");
    }
    if (s.build) {
      const auto& b = *s.build;
      std::error_code ec;
      if (!std::filesystem::is_directory(b.context, ec)) {
        ctx.Error(b.pos, where + ".build: the build context " + b.context + " does not exist",
                  "create the directory, or fix the path (relative to the file's directory)");
      } else if (!PathExists(b.context + "/" + b.dockerfile)) {
        ctx.Error(b.pos, where + ".build: no " + b.dockerfile + " in " + b.context, "add it, or set build.dockerfile");
      }
    }
  }
}

// The `code:` blocks: `from` names an enabled service with its own source,
// and no volume hides the release mounts.
void CheckCode(const Ctx& ctx, const ParsedFile& parsed, const std::set<std::string>& enabled) {
  const auto& services = parsed.app.services;
  std::vector<std::string_view> names;
  for (auto& [n, s] : services) names.push_back(n);
  for (auto& [name, s] : services) {
    if (!s.code) continue;
    const CodeSpec& c = *s.code;
    const std::string where = "services." + name + ".code";
    if (!c.from.empty() && c.from != name) {
      auto it = services.find(c.from);
      if (it == services.end()) {
        std::string near = Closest(c.from, names);
        ctx.Error(c.pos, where + ".from: unknown service \"" + c.from + "\"",
                  near.empty() ? "name a service of this file that has code: {source: DIR}"
                               : "did you mean \"" + near + "\"?");
      } else if (!it->second.code || it->second.code->source.empty()) {
        ctx.Error(c.pos, where + ".from: service \"" + c.from + "\" has no code source",
                  "give " + c.from + " code: {source: DIR}, or name the service that has one");
      } else if (enabled.count(name) && !enabled.count(c.from)) {
        ctx.Error(c.pos, where + ".from: \"" + c.from + "\" is not enabled by the active profiles",
                  "activate one of its profiles (" + Join(it->second.profiles, ", ") + ") with --profile");
      }
    }
    const bool pinned = c.from.empty() && c.strategy == "rolling";
    for (auto& m : s.volumes) {
      std::string t = m.target;
      while (t.size() > 1 && t.back() == '/') t.pop_back();
      if (t == kReleasesMount || StartsWith(t, std::string(kReleasesMount) + "/")) {
        ctx.Error(m.pos, "services." + name + ".volumes: " + m.target + " is where the code releases are mounted",
                  "mount the volume elsewhere; code: puts every release at " + std::string(kReleasesMount));
      } else if (pinned && t == c.path) {
        ctx.Error(m.pos, "services." + name + ".volumes: " + m.target + " is where code.path mounts the release",
                  "mount the volume elsewhere, or set code.path to another directory");
      }
    }
  }
}

// depends_on cycles, each reported once as "a → b → a".
void CheckCycles(const Ctx& ctx, const ParsedFile& parsed) {
  const auto& services = parsed.app.services;
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::set<std::set<std::string>> reported;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    state[n] = 1;
    path.push_back(n);
    auto it = services.find(n);
    if (it != services.end()) {
      for (auto& d : it->second.depends_on) {
        if (d.service == n || !services.count(d.service)) continue;
        int st = state[d.service];
        if (st == 1) {
          auto from = std::find(path.begin(), path.end(), d.service);
          std::vector<std::string> cycle(from, path.end());
          std::set<std::string> key(cycle.begin(), cycle.end());
          if (reported.insert(key).second) {
            // Start the cycle at its smallest name, so it reads the same every run.
            auto mn = std::min_element(cycle.begin(), cycle.end());
            std::rotate(cycle.begin(), mn, cycle.end());
            cycle.push_back(cycle.front());
            const auto& first = services.at(cycle.front());
            Pos at = first.depends_on_pos;
            ctx.Error(at, "depends_on cycle: " + Join(cycle, " → "),
                      "remove one of these dependencies; services cannot wait for each other");
          }
        } else if (st == 0) {
          visit(d.service);
        }
      }
    }
    path.pop_back();
    state[n] = 2;
  };
  for (auto& [n, s] : services) {
    if (state[n] == 0) visit(n);
  }
}

// The same host address/port/protocol published twice (also by replicas).
void CheckPorts(const Ctx& ctx, const ParsedFile& parsed, const std::set<std::string>& enabled) {
  struct Use {
    std::string service;
    const PortSpec* port;
  };
  std::vector<Use> uses;
  for (auto& [name, s] : parsed.app.services) {
    if (!enabled.count(name)) continue;
    for (auto& p : s.ports) {
      if (p.published == 0) continue;
      if (s.replicas > 1) {
        ctx.Error(p.pos,
                  "services." + name + ".ports: host port " + std::to_string(p.published) + " is published by " +
                      std::to_string(s.replicas) + " replicas",
                  "publish only the container port (\"" + std::to_string(p.target) +
                      "\") for an ephemeral host port, or put a proxy in front");
      }
      for (auto& u : uses) {
        const PortSpec& q = *u.port;
        bool overlap = q.published == p.published && q.protocol == p.protocol &&
                       (q.host_ip == p.host_ip || q.host_ip.empty() || p.host_ip.empty() || q.host_ip == "0.0.0.0" ||
                        p.host_ip == "0.0.0.0");
        if (!overlap) continue;
        std::string addr =
            (p.host_ip.empty() ? std::string("*") : p.host_ip) + ":" + std::to_string(p.published) + "/" + p.protocol;
        ctx.Error(p.pos,
                  "services." + name + ".ports: host port " + addr + " is already published by service \"" + u.service +
                      "\" (line " + std::to_string(q.pos.line) + ")",
                  "pick another host port");
        break;
      }
      uses.push_back(Use{name, &p});
    }
  }
}

}  // namespace

void Validate(const Ctx& ctx, const ParsedFile& parsed, const std::set<std::string>& enabled) {
  CheckReferences(ctx, parsed, enabled);
  CheckCycles(ctx, parsed);
  CheckCode(ctx, parsed, enabled);
  CheckPorts(ctx, parsed, enabled);
}

}  // namespace moor::app::detail
