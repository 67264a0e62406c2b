// state, list, ps, pause, resume, update.
#include <dirent.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/container_cgroup.h"
#include "runtime/ops.h"

namespace moor::runtime {

Result<std::string> StateJson(const std::string& root, const std::string& id) {
  TRY(ValidateContainerId(id));
  ContainerDir dir{root, id};
  ContainerState state = TRY(LoadState(dir));
  return OciStateJson(state, CurrentStatus(dir, state));
}

Result<std::string> ListContainers(const std::string& root, bool json) {
  std::vector<std::string> ids;
  if (DIR* d = ::opendir(root.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && ValidateContainerId(n)) ids.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(ids.begin(), ids.end());
  nlohmann::json arr = nlohmann::json::array();
  std::string table = "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n";
  for (const auto& id : ids) {
    ContainerDir dir{root, id};
    auto s = LoadState(dir);
    if (!s) continue;
    Status st = CurrentStatus(dir, *s);
    pid_t pid = st == Status::kStopped ? 0 : s->pid;
    arr.push_back({{"ociVersion", "1.0.2"}, {"id", id}, {"pid", pid}, {"status", StatusName(st)},
                   {"bundle", s->bundle}, {"rootfs", s->rootfs}, {"created", s->created}, {"owner", s->owner}});
    table += id + "\t" + std::to_string(pid) + "\t" + StatusName(st) + "\t" + s->bundle + "\t" + s->created + "\t" +
             (s->owner.empty() ? "root" : s->owner) + "\n";
  }
  return json ? arr.dump() + "\n" : table;
}

static Result<std::unique_ptr<ContainerCgroup>> LiveCgroup(const std::string& root, const std::string& id,
                                                           Status* status = nullptr) {
  TRY(ValidateContainerId(id));
  ContainerDir dir{root, id};
  ContainerState state = TRY(LoadState(dir));
  Status st = CurrentStatus(dir, state);
  if (status) *status = st;
  if (st == Status::kStopped) return Fail(Error(ESRCH, "container \"" + id + "\" is not running"));
  return ContainerCgroup::FromState(state);
}

Result<std::vector<pid_t>> ContainerPids(const std::string& root, const std::string& id) {
  auto cg = TRY(LiveCgroup(root, id));
  return cg->manager().Pids();
}

Result<void> PauseContainer(const std::string& root, const std::string& id) {
  Status st;
  auto cg = TRY(LiveCgroup(root, id, &st));
  if (st != Status::kRunning && st != Status::kCreated)
    return Fail(Error(EINVAL, "container \"" + id + "\" is " + StatusName(st) + "; only a running container can be paused"));
  return cg->manager().Freeze();
}

Result<void> ResumeContainer(const std::string& root, const std::string& id) {
  Status st;
  auto cg = TRY(LiveCgroup(root, id, &st));
  if (st != Status::kPaused)
    return Fail(Error(EINVAL, "container \"" + id + "\" is " + StatusName(st) + ", not paused"));
  return cg->manager().Thaw();
}

Result<void> UpdateContainer(const std::string& root, const std::string& id, const oci::Resources& r) {
  auto cg = TRY(LiveCgroup(root, id));
  TRY(cg->manager().Validate(r));
  return cg->manager().Apply(r);
}

}  // namespace moor::runtime
