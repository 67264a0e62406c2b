#include "image/run/user_lookup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/fd.h"
#include "common/strings.h"
#include "runtime/in_root.h"

namespace moor::image {

namespace {

constexpr size_t kMaxDbBytes = 16 << 20;  // no real passwd file is near this

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
};
struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Reads a file of the rootfs confined to it; a missing file is "".
Result<std::string> ReadInRoot(int root_fd, const std::string& path) {
  auto opened = runtime::OpenInRoot(root_fd, path);
  if (!opened) {
    if (opened.error().errnum() == ENOENT) return std::string();
    return Fail(std::move(opened.error()).Wrap("open " + path + " in the container"));
  }
  struct stat st;
  if (::fstat(opened->get(), &st) != 0) return FailErrno("stat " + path + " in the container");
  if (!S_ISREG(st.st_mode)) return FailInvalid(path + " in the container is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxDbBytes)
    return FailInvalid(path + " in the container is too large");
  // Reopen the O_PATH fd for reading (no path walk happens here).
  UniqueFd fd(::open(runtime::FdPath(opened->get()).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return FailErrno("open " + path + " in the container");
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read " + path + " in the container");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxDbBytes) return FailInvalid(path + " in the container is too large");
  }
  return out;
}

std::optional<uint32_t> ParseId(std::string_view s) {
  auto v = ParseUint(s);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

// Lines of "a:b:c…" with at least min_fields fields and numeric ids; others
// (comments, NIS "+" lines, garbage) are skipped as libc does.
std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (const auto& line : Split(text, '\n')) {
    auto f = Split(line, ':');
    if (f.size() < 4 || f[0].empty() || f[0][0] == '#') continue;
    auto uid = ParseId(f[2]), gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    out.push_back({f[0], *uid, *gid});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  for (const auto& line : Split(text, '\n')) {
    auto f = Split(line, ':');
    if (f.size() < 3 || f[0].empty() || f[0][0] == '#') continue;
    auto gid = ParseId(f[2]);
    if (!gid) continue;
    GroupEntry g{f[0], *gid, {}};
    if (f.size() > 3)
      for (auto& m : Split(f[3], ','))
        if (auto t = Trim(m); !t.empty()) g.members.emplace_back(t);
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

Result<oci::User> ResolveUser(const std::string& rootfs, std::string_view spec) {
  std::string_view user_part = spec, group_part;
  bool has_group = false;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    user_part = spec.substr(0, colon);
    group_part = spec.substr(colon + 1);
    has_group = true;
    if (group_part.empty())
      return FailInvalid("user \"" + std::string(spec) + "\": the group after ':' is empty");
  }
  if (user_part.empty()) {
    if (has_group) return FailInvalid("user \"" + std::string(spec) + "\": the user before ':' is empty");
    user_part = "0";
  }

  UniqueFd root;
  if (!rootfs.empty()) {
    root.Reset(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return FailErrno("open rootfs " + rootfs);
  }
  auto read_db = [&](const char* path) -> Result<std::string> {
    if (!root) return std::string();
    return ReadInRoot(root.get(), path);
  };
  auto passwd = ParsePasswd(TRY(read_db("/etc/passwd")));

  oci::User u;
  std::string name;  // the user's name when passwd knows it (for groups)
  auto numeric_uid = ParseId(user_part);
  auto by_user = std::find_if(passwd.begin(), passwd.end(), [&](const PasswdEntry& e) {
    return numeric_uid ? e.uid == *numeric_uid : e.name == user_part;
  });
  if (by_user != passwd.end()) {
    u.uid = by_user->uid;
    u.gid = by_user->gid;
    name = by_user->name;
  } else if (numeric_uid) {
    u.uid = *numeric_uid;
    u.gid = 0;
  } else {
    return Fail(Error(
        ENOENT, "unable to find user " + std::string(user_part) + ": no matching entries in passwd file"));
  }

  auto groups = ParseGroup(TRY(read_db("/etc/group")));
  if (has_group) {
    if (auto gid = ParseId(group_part)) {
      u.gid = *gid;
    } else {
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const GroupEntry& e) { return e.name == group_part; });
      if (g == groups.end())
        return Fail(Error(ENOENT, "unable to find group " + std::string(group_part) +
                                      ": no matching entries in group file"));
      u.gid = g->gid;
    }
  }
  if (!name.empty()) {
    for (const auto& g : groups) {
      if (g.gid == u.gid) continue;
      if (std::find(g.members.begin(), g.members.end(), name) == g.members.end()) continue;
      if (std::find(u.additional_gids.begin(), u.additional_gids.end(), g.gid) == u.additional_gids.end())
        u.additional_gids.push_back(g.gid);
    }
  }
  return u;
}

}  // namespace moor::image
