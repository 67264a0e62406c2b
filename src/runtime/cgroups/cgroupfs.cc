#include "runtime/cgroups/cgroupfs.h"

#include <dirent.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/file.h"
#include "common/strings.h"

namespace moor::runtime::cgroups {

namespace {

struct Entries {
  std::vector<std::string> dirs, files;
};

Result<std::optional<Entries>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return std::optional<Entries>();
    return FailErrno("open " + dir);
  }
  Entries e;
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = ent->d_type == DT_DIR;
    if (ent->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    (is_dir ? e.dirs : e.files).push_back(std::move(name));
  }
  ::closedir(d);
  return std::optional<Entries>(std::move(e));
}

// On a plain directory (a fixture), delete its files so rmdir can work, as the
// kernel does for a cgroup's control files. Never on cgroupfs.
bool ClearFixtureFiles(const std::string& dir) {
  if (OnCgroupFs(dir)) return false;
  auto list = ListDir(dir);
  if (!list || !*list || !(*list)->dirs.empty()) return false;
  for (const std::string& f : (*list)->files) ::unlink((dir + "/" + f).c_str());
  return true;
}

Result<void> RemoveOne(const std::string& dir, Clock::time_point deadline) {
  bool cleared = false;
  for (int step = 0;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    int err = errno;
    if (err == ENOTEMPTY && !cleared && ClearFixtureFiles(dir)) {
      cleared = true;
      continue;
    }
    if (err == EBUSY && Clock::now() < deadline) {
      Backoff(step);
      continue;
    }
    if (err == EBUSY)
      return Fail(Error(EBUSY, "remove cgroup " + dir + ": processes are still in it; kill them first"));
    return Fail(Error::FromErrno(err, "remove cgroup " + dir));
  }
}

}  // namespace

Result<void> ExecuteWrites(const std::vector<CgroupWrite>& writes,
                           const std::function<Result<std::string>(const CgroupWrite&)>& dir_of) {
  for (const CgroupWrite& w : writes) {
    std::string dir = TRY(dir_of(w));
    auto r = WriteExisting(dir + "/" + w.file, w.value);
    if (r) continue;
    if (w.retried_later && r.error().errnum() == EINVAL) continue;
    return Fail(std::move(r.error()).Wrap("set " + w.file + " to \"" + w.value + "\""));
  }
  return {};
}

Result<std::optional<std::string>> ReadOptional(const std::string& path) {
  auto r = ReadFile(path);
  if (r) return std::optional<std::string>(std::move(*r));
  if (r.error().errnum() == ENOENT) return std::optional<std::string>();
  return Fail(std::move(r.error()));
}

Result<std::optional<uint64_t>> ReadOptionalUint(const std::string& path) {
  std::optional<std::string> text = TRY(ReadOptional(path));
  if (!text) return std::optional<uint64_t>();
  return ParseUint(Trim(*text));
}

Result<std::optional<uint64_t>> ReadKeyedUint(const std::string& path, std::string_view key) {
  std::optional<std::string> text = TRY(ReadOptional(path));
  if (!text) return std::optional<uint64_t>();
  for (const std::string& line : Split(*text, '\n')) {
    size_t sp = line.find(' ');
    if (sp != std::string::npos && std::string_view(line).substr(0, sp) == key)
      return ParseUint(Trim(std::string_view(line).substr(sp + 1)));
  }
  return std::optional<uint64_t>();
}

Result<std::vector<std::string>> MakeDirs(const std::string& dir) {
  std::vector<std::string> made;
  // Common case first: the parent exists, one mkdir does it.
  if (::mkdir(dir.c_str(), 0755) == 0) return std::vector<std::string>{dir};
  if (errno == EEXIST) return made;
  if (errno != ENOENT) return FailErrno("create cgroup directory " + dir);
  for (size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    std::string cur = dir.substr(0, pos);
    if (!cur.empty()) {
      if (::mkdir(cur.c_str(), 0755) == 0) {
        made.push_back(cur);
      } else if (errno != EEXIST) {
        Error e = Error::FromErrno("create cgroup directory " + cur);
        for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
        return Fail(std::move(e));
      }
    }
    if (pos == std::string::npos) break;
  }
  return made;
}

Result<void> MakeDirsRecorded(const std::string& dir, std::vector<std::string>& ancestors,
                              const std::function<void(const std::string&)>& on_created) {
  std::vector<std::string> made = TRY(MakeDirs(dir));
  for (const std::string& m : made) {
    if (m != dir && std::find(ancestors.begin(), ancestors.end(), m) == ancestors.end()) ancestors.push_back(m);
    if (on_created) on_created(m);
  }
  return {};
}

Result<void> CreateRetrying(const std::function<Result<void>()>& make, const std::function<void()>& undo) {
  auto r = make();
  for (int attempt = 0; !r && r.error().errnum() == ENOENT && attempt < 3; ++attempt) r = make();
  if (!r) {
    undo();
    return Fail(std::move(r.error()).Wrap("create cgroup"));
  }
  return {};
}

Result<std::vector<pid_t>> ReadPidsRecursive(const std::string& dir) {
  std::vector<pid_t> out;
  std::vector<std::string> todo{dir};
  while (!todo.empty()) {
    std::string d = std::move(todo.back());
    todo.pop_back();
    std::optional<std::string> procs = TRY(ReadOptional(d + "/cgroup.procs"));
    if (!procs) continue;  // gone meanwhile, or not a cgroup
    for (const std::string& line : Split(*procs, '\n')) {
      if (auto pid = ParseInt(Trim(line)); pid && *pid > 0) out.push_back(static_cast<pid_t>(*pid));
    }
    std::optional<Entries> list = TRY(ListDir(d));
    if (list)
      for (const std::string& sub : list->dirs) todo.push_back(d + "/" + sub);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<pid_t> SignalPids(const std::vector<pid_t>& pids, int signal) {
  std::vector<pid_t> alive;
  pid_t self = ::getpid();
  for (pid_t p : pids) {
    if (p <= 0 || p == self) continue;
    if (::kill(p, signal) == 0 || errno != ESRCH) alive.push_back(p);
  }
  return alive;
}

Result<void> RemoveCgroupTree(const std::string& dir, Clock::time_point deadline) {
  std::optional<Entries> list = TRY(ListDir(dir));
  if (!list) return {};
  for (const std::string& sub : list->dirs) TRY(RemoveCgroupTree(dir + "/" + sub, deadline));
  return RemoveOne(dir, deadline);
}

Result<void> RemoveIfUnused(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT || errno == EBUSY) return {};
  if (errno == ENOTEMPTY) {
    if (ClearFixtureFiles(dir) && ::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY)
      return FailErrno("remove cgroup " + dir);
    return {};
  }
  return FailErrno("remove cgroup " + dir);
}

bool OnCgroupFs(const std::string& path) {
  struct statfs fs;
  if (::statfs(path.c_str(), &fs) != 0) return false;
  return static_cast<unsigned long>(fs.f_type) == CGROUP_SUPER_MAGIC ||
         static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
}

void Backoff(int& step) {
  int ms = std::min(20, 1 << std::min(step, 5));
  ++step;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace moor::runtime::cgroups
