// What the engine stores per container in the state store (as JSON): its
// configuration, the image it was created from, where it is attached, and
// the last state the daemon knows (the monitor's state.json is the truth
// while a monitor lives; the record is updated from it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/container_config.h"

namespace moor::engine {

struct BoundPort {
  int container_port = 0;
  bool udp = false;
  std::string host_ip;  // "0.0.0.0" when all
  int host_port = 0;
};

struct Endpoint {
  std::string network;  // network name ("bridge" for the default one)
  std::string network_id;
  std::string ip;  // "" until leased
  std::string gateway;
  int prefix = 0;
  std::string mac;
  std::vector<std::string> aliases;
};

struct HealthState {
  std::string status;  // "" (no check) | starting | healthy | unhealthy
  int failing_streak = 0;
  struct Probe {
    std::string start, end;
    int exit_code = 0;
    std::string output;
  };
  std::vector<Probe> log;  // last 5
};

struct ContainerState {
  // created | running | paused | restarting | exited | dead | removing
  std::string status = "created";
  int pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  std::string started_at, finished_at;  // "" = never (Docker shows 0001-01-01T00:00:00Z)
  int restart_count = 0;
  bool manually_stopped = false;
  HealthState health;
};

struct ContainerRecord {
  std::string id;
  std::string name;  // without the leading "/"
  std::string created;
  std::string image_ref;  // as the user gave it
  std::string image_id;   // "sha256:…" config digest
  ContainerConfig config;
  std::string runtime;  // resolved runtime name
  Endpoint endpoint;    // empty network for host/none/container:
  std::vector<BoundPort> ports;
  std::string netns_path;  // pinned netns while running
  ContainerState state;

  bool Running() const { return state.status == "running" || state.status == "paused" ||
                                state.status == "restarting"; }
};

std::string RecordToJson(const ContainerRecord& r);
Result<ContainerRecord> RecordFromJson(const std::string& json);

}  // namespace moor::engine
