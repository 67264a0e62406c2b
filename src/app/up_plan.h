// What `moor up` must do to make the running containers match the app file:
// a pure function from (desired services, existing containers) to ordered
// actions, so the reconciliation rules are unit-tested without a daemon.
//
// Containers of an app carry labels (moor.app, moor.app.service,
// moor.app.replica, moor.app.digest) and are named APP-SERVICE-N. The rules:
// - a service whose containers all run with the wanted digest: nothing (a
//   second `up` changes nothing);
// - a stopped container with the wanted digest is started, not recreated;
// - missing replicas are created (lowest free replica numbers first);
// - containers with another digest are replaced one at a time: the new one
//   is created and must be healthy before the old one is removed (rolling,
//   gated on health by the executor);
// - replicas above the wanted count are removed, highest number first;
// - containers of services no longer in the file (orphans) are removed last;
// - services are handled in dependency order (the order given).
#pragma once

#include <string>
#include <vector>

namespace moor::app {

struct DesiredService {
  std::string name;
  std::string digest;  // of the normalised service definition
  int replicas = 1;
};

struct ExistingContainer {
  std::string id;
  std::string name;
  std::string service;  // moor.app.service
  int replica = 0;      // moor.app.replica (1-based; 0 = unknown)
  std::string digest;   // moor.app.digest
  bool running = false;
};

struct UpAction {
  enum class Kind {
    kStart,    // start the existing container `container`
    kCreate,   // create and start replica `replica` of `service`
    kReplace,  // create replica `replica` anew, wait until healthy, then remove `container`
    kRemove,   // stop (deregistered first) and remove `container`
  };
  Kind kind;
  std::string service;
  int replica = 0;
  std::string container;  // id of the existing container, when there is one
  bool operator==(const UpAction&) const = default;
};

// services: the services to bring up, in start order (only those selected,
// e.g. `moor up web`). all_services: every service the file defines (to tell
// orphans from services merely not selected). remove_orphans: also remove
// containers of services not in the file.
std::vector<UpAction> PlanUp(const std::vector<DesiredService>& services,
                             const std::vector<std::string>& all_services,
                             const std::vector<ExistingContainer>& existing, bool remove_orphans);

// "web-3" style name of a replica.
std::string ContainerName(const std::string& app, const std::string& service, int replica);

std::string DescribeAction(const UpAction& a);  // one line for `moor up`'s output

}  // namespace moor::app
