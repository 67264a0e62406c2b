#include "runtime/cgroups/paths.h"

#include <algorithm>
#include <set>

#include "common/file.h"
#include "common/strings.h"

namespace moor::runtime::cgroups {

namespace {

constexpr std::string_view kField = "linux.cgroupsPath";

// "/a" + "/b/c" → "/a/b/c"; either side may be "/" or empty.
std::string JoinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (!b.empty()) {
    out += '/';
    out += b;
  }
  return out.empty() ? "/" : out;
}

// The part of `path` (a hierarchy path) below the mount's root, so it can be
// joined to the mount point.
Result<std::string> BelowRoot(const std::string& path, const std::string& root, std::string_view what) {
  if (root == "/" || root.empty()) return path;
  if (path == root) return std::string("/");
  if (StartsWith(path, root + "/")) return path.substr(root.size());
  return FailInvalid("the calling process's " + std::string(what) + " cgroup " + path +
                     " is outside the mounted part of the hierarchy (" + root +
                     "); use an absolute linux.cgroupsPath");
}

// "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" → "".
Result<std::string> ExpandSlice(std::string_view slice) {
  constexpr std::string_view kSuffix = ".slice";
  if (slice.size() <= kSuffix.size() || slice.substr(slice.size() - kSuffix.size()) != kSuffix ||
      slice.find('/') != std::string_view::npos)
    return FailInvalid(std::string(kField) + ": invalid systemd slice \"" + std::string(slice) +
                       "\" (expected a name like system.slice or user-1000.slice)");
  if (slice == "-.slice") return std::string();
  std::string_view base = slice.substr(0, slice.size() - kSuffix.size());
  if (base.front() == '-' || base.back() == '-' || base.find("--") != std::string_view::npos)
    return FailInvalid(std::string(kField) + ": invalid systemd slice \"" + std::string(slice) +
                       "\" (dashes separate non-empty parent names)");
  std::string out, prefix;
  for (const std::string& part : Split(base, '-')) {
    prefix += prefix.empty() ? part : "-" + part;
    out += "/" + prefix + std::string(kSuffix);
  }
  return out;
}

}  // namespace

Result<ProcCgroups> ParseProcCgroup(std::string_view text) {
  ProcCgroups out;
  for (const std::string& line : Split(text, '\n')) {
    if (Trim(line).empty()) continue;
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos || a == 0) return FailInvalid("/proc/self/cgroup: malformed line \"" + line + "\"");
    std::string id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (!ParseUint(id)) return FailInvalid("/proc/self/cgroup: malformed line \"" + line + "\"");
    if (controllers.empty()) {
      if (id == "0") out.unified = path;
      continue;  // a v1 hierarchy without controllers or name: nothing to address it by
    }
    for (const std::string& c : Split(controllers, ','))
      if (!c.empty()) out.v1[c] = path;
  }
  return out;
}

Result<ProcCgroups> ReadProcCgroup(pid_t pid) {
  std::string file = pid == 0 ? "/proc/self/cgroup" : "/proc/" + std::to_string(pid) + "/cgroup";
  std::string text = TRY(ReadFile(file));
  return ParseProcCgroup(text);
}

Result<std::string> CleanCgroupPath(std::string_view path) {
  std::vector<std::string> parts;
  for (const std::string& p : Split(path, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..")
      return FailInvalid(std::string(kField) + ": \"..\" is not allowed (got \"" + std::string(path) +
                         "\"); give a path below the cgroup root");
    parts.push_back(p);
  }
  if (parts.empty())
    return FailInvalid(std::string(kField) + ": \"" + std::string(path) +
                       "\" names a cgroup root; give a directory below it such as /moor/<id>");
  std::string out = Join(parts, "/");
  return !path.empty() && path.front() == '/' ? "/" + out : out;
}

bool IsSystemdCgroupPath(std::string_view path) {
  return !path.empty() && path.front() != '/' && std::count(path.begin(), path.end(), ':') == 2;
}

Result<std::string> SystemdToCgroupfsPath(std::string_view path) {
  std::vector<std::string> parts = Split(path, ':');
  if (parts.size() != 3)
    return FailInvalid(std::string(kField) + ": \"" + std::string(path) + "\" is not of the form slice:prefix:name");
  const std::string& name = parts[2];
  const std::string& prefix = parts[1];
  if (name.empty() || name.find('/') != std::string::npos || prefix.find('/') != std::string::npos || name == "." ||
      name == "..")
    return FailInvalid(std::string(kField) + ": \"" + std::string(path) + "\" needs a unit name without '/'");
  constexpr std::string_view kSlice = ".slice";
  if (name.size() > kSlice.size() && name.substr(name.size() - kSlice.size()) == kSlice) return ExpandSlice(name);
  std::string slice = TRY(ExpandSlice(parts[0].empty() ? "system.slice" : parts[0]));
  std::string unit = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
  return slice + "/" + unit;
}

Result<std::string> ContainerCgroupPath(std::string_view cgroups_path, std::string_view container_id) {
  if (cgroups_path.empty()) {
    if (container_id.empty() || container_id.find('/') != std::string_view::npos || container_id == "." ||
        container_id == "..")
      return FailInvalid("container id \"" + std::string(container_id) +
                         "\" cannot name a cgroup; use letters, digits, '_', '-' or '.'");
    return "/moor/" + std::string(container_id);
  }
  if (IsSystemdCgroupPath(cgroups_path)) {
    std::string p = TRY(SystemdToCgroupfsPath(cgroups_path));
    return CleanCgroupPath(p);
  }
  return CleanCgroupPath(cgroups_path);
}

std::vector<std::string> CgroupPaths::V1Dirs() const {
  std::set<std::string> s;
  for (const auto& [c, d] : v1) s.insert(d);
  return {s.begin(), s.end()};
}

std::vector<std::string> CgroupPaths::AllDirs() const {
  std::vector<std::string> out = V1Dirs();
  if (!unified.empty()) out.push_back(unified);
  return out;
}

Result<CgroupPaths> ResolvePaths(const Layout& layout, std::string_view container_path, const ProcCgroups& self) {
  std::string inner = TRY(CleanCgroupPath(container_path));
  bool absolute = inner.front() == '/';
  auto resolve = [&](const V1Mount& m, const std::string* own, std::string_view what) -> Result<std::string> {
    if (absolute) return JoinPath(m.mount_point, inner);
    if (!own)
      return FailInvalid("/proc/self/cgroup has no entry for the " + std::string(what) +
                         " hierarchy; use an absolute linux.cgroupsPath");
    std::string below = TRY(BelowRoot(*own, m.root, what));
    return JoinPath(JoinPath(m.mount_point, below), inner);
  };
  CgroupPaths out;
  if (layout.mode != Mode::kV2) {
    for (const auto& [controller, mount] : layout.v1) {
      auto it = self.v1.find(controller);
      out.v1[controller] = TRY(resolve(mount, it == self.v1.end() ? nullptr : &it->second, controller));
    }
  }
  if (layout.mode != Mode::kV1) {
    out.unified = TRY(resolve(layout.unified, self.unified ? &*self.unified : nullptr, "unified"));
  }
  return out;
}

}  // namespace moor::runtime::cgroups
