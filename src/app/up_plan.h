// What `moor up` must do to make the running containers match the app file:
// a pure function from (desired services, existing containers) to ordered
// actions, so the reconciliation rules are unit-tested without a daemon.
//
// Containers of an app carry labels (moor.app, moor.app.service,
// moor.app.replica, moor.app.digest) and are named APP-SERVICE-N. The rules:
// - a service whose containers all run with the wanted digest: nothing (a
//   second `up` changes nothing);
// - a stopped container with the wanted digest is started, not recreated —
//   unless the service runs once (restart no / on-failure) and it exited 0;
// - the number in a container's name is its replica number, unique within
//   the service; a new container takes the lowest number no container of the
//   service holds (so a replacement never needs a rename: php-1 is replaced
//   by php-3 while php-1 still serves, and the next change brings php-1 back);
// - missing replicas are created;
// - containers with another digest are replaced one at a time: the new one
//   is created and must be ready before the old one is removed (rolling,
//   gated on readiness by the executor);
// - up-to-date containers above the wanted count are removed, highest number
//   first (running ones are kept in preference to stopped ones);
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
  // Restart policy no or on-failure: a container of it that exited with 0
  // has done its job (a one-shot, e.g. seeding a volume) and is not started
  // again by a later `moor up`.
  bool runs_once = false;
};

struct ExistingContainer {
  std::string id;
  std::string name;
  std::string service;  // moor.app.service
  int replica = 0;      // moor.app.replica (1-based; 0 = unknown)
  std::string digest;   // moor.app.digest
  bool running = false;
  bool exited_ok = false;  // stopped after exiting with status 0
};

struct UpAction {
  enum class Kind {
    kStart,    // start the existing container `container`
    kCreate,   // create and start replica `replica` of `service`
    kReplace,  // create replica `replica` (a new number), wait until ready, then remove `container`
    kRemove,   // stop (deregistered first) and remove `container`
  };
  Kind kind;
  std::string service;
  int replica = 0;
  std::string container;  // id of the existing container, when there is one
  int old_replica = 0;    // kReplace: the number of the container replaced
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
