#include "runtime/container_state.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/strings.h"

namespace moor::runtime {

using nlohmann::json;

const char* StatusName(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
  }
  return "unknown";
}

Result<void> ValidateContainerId(const std::string& id) {
  if (id.empty()) return FailInvalid("container id is empty; give an id like \"web-1\"");
  if (id.size() > 1024) return FailInvalid("container id is longer than 1024 characters");
  if (id == "." || id == "..") return FailInvalid("invalid container id \"" + id + "\"");
  for (char c : id)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-'))
      return FailInvalid("invalid container id \"" + id + "\": use letters, digits and _ . + -");
  return {};
}

std::string SerializeState(const ContainerState& s) {
  json j = {{"id", s.id},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"pid", s.pid},
            {"pid_start_time", s.pid_start_time},
            {"created", s.created},
            {"cgroups_path", s.cgroups_path},
            {"cgroup_v1", s.cgroup_v1},
            {"cgroup_unified", s.cgroup_unified},
            {"cgroup_ancestors", s.cgroup_ancestors},
            {"annotations", s.annotations},
            {"owner", s.owner}};
  return j.dump();
}

Result<ContainerState> ParseState(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return FailInvalid("state file is not valid JSON");
  ContainerState s;
  try {
    s.id = j.at("id").get<std::string>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start_time = j.at("pid_start_time").get<uint64_t>();
    s.created = j.at("created").get<std::string>();
    s.cgroups_path = j.at("cgroups_path").get<std::string>();
    s.cgroup_v1 = j.at("cgroup_v1").get<std::map<std::string, std::string>>();
    s.cgroup_unified = j.at("cgroup_unified").get<std::string>();
    s.cgroup_ancestors = j.at("cgroup_ancestors").get<std::vector<std::string>>();
    s.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
    s.owner = j.value("owner", "");
  } catch (const json::exception& e) {
    return FailInvalid(std::string("state file is damaged: ") + e.what());
  }
  return s;
}

Result<ContainerState> LoadState(const ContainerDir& dir) {
  auto text = ReadFile(dir.state_file());
  if (!text) {
    if (text.error().errnum() == ENOENT) {
      if (PathExists(dir.dir()))
        return Fail(Error(ENOENT, "container \"" + dir.id + "\" has no state (its creation was interrupted); "
                                  "remove it with delete --force"));
      return Fail(Error(ENOENT, "container \"" + dir.id + "\" does not exist"));
    }
    return Fail(std::move(text.error()));
  }
  return ParseState(*text);
}

Result<void> SaveState(const ContainerDir& dir, const ContainerState& s) {
  return WriteFileAtomic(dir.state_file(), SerializeState(s));
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // comm may contain spaces and parens: fields start after the last ')'.
  char* p = strrchr(buf, ')');
  if (!p) return 0;
  std::vector<std::string> fields = Split(std::string_view(p + 2), ' ');
  // fields[0] is state (field 3); starttime is field 22 → index 19.
  if (fields.size() < 20) return 0;
  if (fields[0] == "Z" || fields[0] == "X") return 0;
  return ParseUint(fields[19]).value_or(0);
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  uint64_t now = ProcessStartTime(pid);
  return now != 0 && now == start_time;
}

std::string OciStateJson(const ContainerState& s, Status status) {
  json j = {{"ociVersion", "1.0.2"},
            {"id", s.id},
            {"pid", status == Status::kStopped ? 0 : s.pid},
            {"status", StatusName(status)},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump(2);
}

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}

}  // namespace moor::runtime
