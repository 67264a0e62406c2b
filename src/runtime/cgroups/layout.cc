#include "runtime/cgroups/layout.h"

#include <dirent.h>

#include <algorithm>
#include <array>

#include "common/file.h"
#include "common/strings.h"

namespace moor::runtime::cgroups {

namespace {

constexpr std::array<std::string_view, 14> kV1Controllers = {
    "cpuset",  "cpu",     "cpuacct",    "blkio",    "memory",  "devices", "freezer",
    "net_cls", "net_prio", "perf_event", "hugetlb", "pids",    "rdma",    "misc"};

bool IsV1Controller(std::string_view opt) {
  return std::find(kV1Controllers.begin(), kV1Controllers.end(), opt) != kV1Controllers.end();
}

// Undoes the kernel's octal escaping of space, tab, newline and backslash.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kV1: return "v1";
    case Mode::kHybrid: return "hybrid";
    case Mode::kV2: return "v2";
  }
  return "?";
}

bool Layout::HasUnifiedController(std::string_view controller) const {
  return std::find(unified_controllers.begin(), unified_controllers.end(), controller) !=
         unified_controllers.end();
}

Result<CgroupMounts> ParseMountinfo(std::string_view mountinfo) {
  CgroupMounts out;
  size_t line_no = 0;
  for (const std::string& line : Split(mountinfo, '\n')) {
    ++line_no;
    if (Trim(line).empty()) continue;
    std::vector<std::string_view> f = Fields(line);
    // id parent maj:min root mount_point options [optional…] - fstype source super_options
    auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4) {
      // Not a cgroup line we must understand; skip lines we cannot split
      // unless they name a cgroup filesystem.
      if (line.find(" cgroup") != std::string::npos)
        return FailInvalid("mountinfo line " + std::to_string(line_no) + ": malformed: " + line);
      continue;
    }
    std::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    V1Mount m{Unescape(f[4]), Unescape(f[3])};
    if (fstype == "cgroup2") {
      if (out.unified.mount_point.empty()) out.unified = std::move(m);
      continue;
    }
    for (const std::string& opt : Split(dash[3], ',')) {
      if (IsV1Controller(opt) || (StartsWith(opt, "name=") && opt.size() > 5)) out.v1.emplace(opt, m);
    }
  }
  return out;
}

Result<Layout> MakeLayout(CgroupMounts mounts, std::string_view unified_controllers,
                          std::vector<std::string> hugepage_sizes) {
  Layout l;
  bool has_v1_controller = std::any_of(mounts.v1.begin(), mounts.v1.end(),
                                       [](const auto& kv) { return !StartsWith(kv.first, "name="); });
  if (!mounts.unified.mount_point.empty()) {
    l.mode = has_v1_controller ? Mode::kHybrid : Mode::kV2;
    l.unified = std::move(mounts.unified);
    for (const std::string& c : Split(Trim(unified_controllers), ' '))
      if (!c.empty()) l.unified_controllers.push_back(c);
  } else if (!mounts.v1.empty()) {
    l.mode = Mode::kV1;
  } else {
    return FailInvalid(
        "no cgroup filesystem is mounted (/proc/self/mountinfo has no cgroup or cgroup2 entry); "
        "mount cgroup2 on /sys/fs/cgroup");
  }
  if (l.mode != Mode::kV2) l.v1 = std::move(mounts.v1);
  l.hugepage_sizes = std::move(hugepage_sizes);
  return l;
}

std::vector<std::string> HugepageSizesFromDirNames(const std::vector<std::string>& names) {
  std::vector<std::pair<uint64_t, std::string>> sizes;
  for (const std::string& n : names) {
    constexpr std::string_view kPrefix = "hugepages-", kSuffix = "kB";
    if (!StartsWith(n, kPrefix) || n.size() <= kPrefix.size() + kSuffix.size() ||
        n.substr(n.size() - kSuffix.size()) != kSuffix)
      continue;
    auto kb = ParseUint(std::string_view(n).substr(kPrefix.size(), n.size() - kPrefix.size() - kSuffix.size()));
    if (!kb || *kb == 0) continue;
    std::string name;
    if (*kb % (1024 * 1024) == 0) {
      name = std::to_string(*kb / (1024 * 1024)) + "GB";
    } else if (*kb % 1024 == 0) {
      name = std::to_string(*kb / 1024) + "MB";
    } else {
      name = std::to_string(*kb) + "KB";
    }
    sizes.emplace_back(*kb, std::move(name));
  }
  std::sort(sizes.begin(), sizes.end());
  std::vector<std::string> out;
  for (auto& s : sizes) out.push_back(std::move(s.second));
  return out;
}

Result<Layout> ReadLayout() {
  std::string text = TRY_CTX(ReadFile("/proc/self/mountinfo"), "detect cgroup layout");
  CgroupMounts mounts = TRY_CTX(ParseMountinfo(text), "detect cgroup layout");
  std::string controllers;
  if (!mounts.unified.mount_point.empty()) {
    controllers = TRY_CTX(ReadFile(mounts.unified.mount_point + "/cgroup.controllers"), "detect cgroup layout");
  }
  std::vector<std::string> names;
  if (DIR* d = ::opendir("/sys/kernel/mm/hugepages")) {
    while (struct dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  return MakeLayout(std::move(mounts), controllers, HugepageSizesFromDirNames(names));
}

}  // namespace moor::runtime::cgroups
