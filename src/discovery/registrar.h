// The registrar: running containers → service instances (Registrator's job,
// done inside the daemon and without its stale entries).
//
// A container's services come from its labels (docs/discovery.md):
// moor.service, moor.service.port/tags/meta/drain/ignore, moor.check*,
// moor.template.*, moor.reload.signal. Without moor.service the image's name
// is used, and a container exposing several ports gets one service per port
// (NAME-PORT), as Registrator does. Instances enter the catalog when their
// check first passes (Agent), leave before the stop signal (BeforeStop), on
// death and on pause (Down). Reconcile() rebuilds everything from the live
// container list: at daemon start and on a timer, so a missed event never
// leaves a stale or missing entry.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "discovery/agent.h"
#include "discovery/template_manager.h"

namespace moor::discovery {

// What the registrar knows of a container (from the engine).
struct ContainerInfo {
  std::string id;
  std::string name;
  std::string image_ref;  // as given ("registry.example/library/nginx:1.25")
  std::map<std::string, std::string> labels;
  std::string ip;  // on its moor network; "" for host/none networking
  bool host_network = false;
  std::vector<int> tcp_ports;  // exposed (container + image) and published container ports, sorted, unique
  std::string status;          // running | paused | restarting | exited | created | dead
  bool has_healthcheck = false;  // the engine runs a HEALTHCHECK for it
  std::string health;            // "" | starting | healthy | unhealthy
};

class ContainerLister {
 public:
  virtual ~ContainerLister() = default;
  virtual std::vector<ContainerInfo> List() = 0;  // every container the engine knows
  virtual std::optional<ContainerInfo> Get(const std::string& id) = 0;
};

// What a container's labels ask for. Pure; unit-tested.
struct ContainerPlan {
  struct Instance {
    ServiceInstance service;
    std::vector<CheckDef> checks;
  };
  std::vector<Instance> instances;
  std::vector<TemplateSpec> templates;
  int64_t drain_ns = 0;
  std::vector<std::string> warnings;  // bad labels (logged; the rest still applies)
};
// node_address: used for host-network containers.
ContainerPlan PlanFor(const ContainerInfo& c, const std::string& node_address);
// "registry.example/team/php-fpm:8.2" → "php-fpm"; "" when nothing usable.
std::string ServiceNameFromImage(const std::string& image_ref);

class Registrar {
 public:
  // templates may be null (no template support).
  Registrar(Agent& agent, TemplateManager* templates, ContainerLister& lister, std::string node_address);

  // The container is running (start, unpause, restart, health change, rename):
  // (re)announces its instances; a no-op when nothing changed.
  void Up(const ContainerInfo& c);
  // The container is going away (die, pause, destroy, stop): its instances
  // leave the catalog; templates of the container stop rendering.
  void Down(const std::string& container_id);
  // Before the stop signal: deregister at once, then (drain) wait the drain
  // delay (moor.service.drain) so clients that resolved the old list finish.
  void BeforeStop(const std::string& container_id, bool drain = true);
  // Engine HEALTHCHECK result for containers using the "docker" check.
  void Health(const std::string& container_id, const std::string& status);
  // Full pass over the live containers.
  void Reconcile();

 private:
  void UpLocked(const ContainerInfo& c, bool force);
  void DownLocked(const std::string& container_id);

  Agent& agent_;
  TemplateManager* templates_;
  ContainerLister& lister_;
  std::string node_address_;
  std::mutex mu_;
  struct Known {
    std::string fingerprint;  // labels + ip + ports: what the plan depends on
    int64_t drain_ns = 0;
    std::vector<std::string> template_ids;
    std::vector<std::string> docker_checks;
    // Templates whose source could not be read or parsed yet: retried at
    // every Up of the same container (events and the periodic reconcile).
    std::vector<TemplateSpec> failed_templates;
  };
  void AddTemplates(const std::string& container_name, std::vector<TemplateSpec> specs, Known& k, bool retry);
  std::map<std::string, Known> known_;  // by container id (running, announced)
};

}  // namespace moor::discovery
