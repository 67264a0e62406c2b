#include "runtime/process/rlimits.h"

#include <array>
#include <cerrno>
#include <utility>

namespace moor::runtime::process {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 16> kRlimits = {{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

}  // namespace

int RlimitFromName(std::string_view name) {
  for (const auto& [key, value] : kRlimits)
    if (key == name) return value;
  return -1;
}

Result<RlimitPlan> PlanRlimits(const std::vector<oci::Rlimit>& rlimits, const std::string& field) {
  RlimitPlan plan;
  for (size_t i = 0; i < rlimits.size(); ++i) {
    const auto& r = rlimits[i];
    std::string f = field + "[" + std::to_string(i) + "]";
    int resource = RlimitFromName(r.type);
    if (resource < 0)
      return FailInvalid(f + ".type: unknown rlimit \"" + r.type +
                         "\" (expected e.g. RLIMIT_NOFILE)");
    if (r.soft > r.hard)
      return FailInvalid(f + ": soft limit " + std::to_string(r.soft) + " is above hard limit " +
                         std::to_string(r.hard) + " for " + r.type);
    for (const auto& earlier : plan)
      if (earlier.resource == resource)
        return FailInvalid(f + ".type: " + r.type + " is given twice; keep one entry");
    RlimitSetting s;
    s.resource = resource;
    s.limit.rlim_cur = static_cast<rlim_t>(r.soft);
    s.limit.rlim_max = static_cast<rlim_t>(r.hard);
    s.name = r.type;
    plan.push_back(std::move(s));
  }
  return plan;
}

Result<void> ApplyRlimits(const RlimitPlan& plan) {
  for (const auto& s : plan) {
    if (setrlimit(static_cast<__rlimit_resource_t>(s.resource), &s.limit) == 0) continue;
    int err = errno;
    std::string what = "set " + s.name + " to soft " + std::to_string(s.limit.rlim_cur) +
                       ", hard " + std::to_string(s.limit.rlim_max);
    if (err == EPERM) what += " (raising a hard limit needs CAP_SYS_RESOURCE)";
    return Fail(Error::FromErrno(err, what));
  }
  return {};
}

}  // namespace moor::runtime::process
