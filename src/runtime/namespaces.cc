#include "runtime/namespaces.h"

#include <sched.h>

#include <algorithm>

namespace moor::runtime {

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int NamespaceFlag(std::string_view type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

const char* NamespaceProcName(int flag) {
  switch (flag) {
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWNET: return "net";
    case CLONE_NEWNS: return "mnt";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWCGROUP: return "cgroup";
    case CLONE_NEWTIME: return "time";
  }
  return "";
}

bool NamespacePlan::new_user_ns() const { return clone_flags & CLONE_NEWUSER; }
bool NamespacePlan::new_pid_ns() const { return clone_flags & CLONE_NEWPID; }
bool NamespacePlan::new_mount_ns() const { return clone_flags & CLONE_NEWNS; }

Result<NamespacePlan> PlanNamespaces(const oci::Spec& spec) {
  NamespacePlan plan;
  bool join_user = false;
  for (const auto& ns : spec.linux.namespaces) {
    int flag = NamespaceFlag(ns.type);
    if (!flag) return FailInvalid("linux.namespaces: unknown type \"" + ns.type + "\"");
    if (!ns.path.empty()) {
      plan.joins.push_back({flag, ns.path});
      join_user |= flag == CLONE_NEWUSER;
    } else if (flag == CLONE_NEWCGROUP) {
      plan.new_cgroup_ns = true;
    } else {
      plan.clone_flags |= flag;
    }
  }
  if (join_user && plan.clone_flags)
    return FailInvalid(
        "linux.namespaces: joining a user namespace by path while creating new namespaces is not supported; "
        "give paths for all namespaces or create a new user namespace");
  // The user namespace must be joined before the others so they are owned by it.
  std::stable_sort(plan.joins.begin(), plan.joins.end(), [](const NamespaceJoin& a, const NamespaceJoin& b) {
    return (a.flag == CLONE_NEWUSER) > (b.flag == CLONE_NEWUSER);
  });
  return plan;
}

}  // namespace moor::runtime
