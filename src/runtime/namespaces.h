// Which namespaces a container gets, as clone/unshare flags and setns joins.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime {

struct NamespaceJoin {
  int flag = 0;  // CLONE_NEW*
  std::string path;
};

struct NamespacePlan {
  // New namespaces created by clone(2) itself.
  int clone_flags = 0;
  // New cgroup namespace: unshared by the child only after the parent moved it
  // into the container's cgroup, so the namespace root is that cgroup.
  bool new_cgroup_ns = false;
  // Existing namespaces joined by path (user first, then the rest), in order.
  std::vector<NamespaceJoin> joins;
  bool new_user_ns() const;
  bool new_pid_ns() const;
  bool new_mount_ns() const;
};

// CLONE_NEW* for an OCI namespace type; 0 when unknown.
int NamespaceFlag(std::string_view type);
// Name of the /proc/<pid>/ns/ entry for a CLONE_NEW* flag ("net" for CLONE_NEWNET).
const char* NamespaceProcName(int flag);

// Pure: turns linux.namespaces into a plan.
// REQUIRES: the spec passed oci::ValidateSpec.
Result<NamespacePlan> PlanNamespaces(const oci::Spec& spec);

}  // namespace moor::runtime
