#include "runtime/mount_options.h"

#include <sys/mount.h>

#include <string_view>

#include "common/strings.h"

namespace moor::runtime {
namespace {

struct FlagOpt {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

constexpr FlagOpt kFlags[] = {
    {"defaults", false, 0},        {"ro", false, MS_RDONLY},         {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},     {"nosuid", false, MS_NOSUID},     {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},    {"exec", true, MS_NOEXEC},        {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT}, {"mand", false, MS_MANDLOCK},   {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},   {"noatime", false, MS_NOATIME},   {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME}, {"nolazytime", true, MS_LAZYTIME},
};

struct PropOpt {
  std::string_view name;
  unsigned long flag;
};
constexpr PropOpt kProps[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},       {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

}  // namespace

bool MountOptions::readonly() const { return flags & MS_RDONLY; }

Result<MountOptions> ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions out;
  std::vector<std::string> data;
  for (const auto& o : options) {
    bool done = false;
    for (const auto& f : kFlags) {
      if (o == f.name) {
        if (f.clear)
          out.flags &= ~f.flag;
        else
          out.flags |= f.flag;
        done = true;
        break;
      }
    }
    if (done) continue;
    for (const auto& p : kProps) {
      if (o == p.name) {
        out.propagation = p.flag;
        done = true;
        break;
      }
    }
    if (done) continue;
    if (o == "bind") {
      out.bind = true;
    } else if (o == "rbind") {
      out.bind = true;
      out.recursive = true;
    } else if (o == "tmpcopyup" || o == "rro" || o == "rrw" || o == "nosymfollow" || o == "rnosymfollow") {
      out.ignored.push_back(o);
    } else if (o == "idmap" || o == "ridmap") {
      return FailInvalid("mount option \"" + o + "\" (id-mapped mounts) is not supported by moor-runtime yet");
    } else if (o.empty()) {
      return FailInvalid("empty mount option");
    } else {
      data.push_back(o);
    }
  }
  out.data = Join(data, ",");
  return out;
}

unsigned long long MountAttrFromFlags(unsigned long flags) {
  unsigned long long attr = 0;
  if (flags & MS_RDONLY) attr |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) attr |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) attr |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) attr |= MOUNT_ATTR_NOEXEC;
  if (flags & MS_NOATIME) attr |= MOUNT_ATTR_NOATIME;
  else if (flags & MS_STRICTATIME) attr |= MOUNT_ATTR_STRICTATIME;
  if (flags & MS_NODIRATIME) attr |= MOUNT_ATTR_NODIRATIME;
  return attr;
}

unsigned long PropagationFromString(const std::string& s) {
  for (const auto& p : kProps)
    if (s == p.name) return p.flag;
  return 0;
}

}  // namespace moor::runtime
