// Hybrid hosts: which resources go to the v1 hierarchies and which to the
// unified one. Pure.
#pragma once

#include <set>
#include <string>

#include "oci/spec.h"
#include "runtime/cgroups/layout.h"

namespace moor::runtime::cgroups {

// Controllers (by v1 name: "hugetlb", "blkio", …) that a hybrid host offers
// only on the unified mount: not mounted on v1, listed in the unified
// cgroup.controllers. Every other controller is used through v1.
std::set<std::string> UnifiedOnlyControllers(const Layout& layout);

struct SplitResources {
  oci::Resources v1;
  oci::Resources v2;
};

// Routes each resource to the hierarchy of its controller: to v2 when the
// controller is in `unified_only` (v1 names), else to v1 (where a missing
// controller then gives the usual error). Device rules always go to v1.
// Unified keys go to v2 when their controller is unified-only, when they are
// core "cgroup.*" files, or when malformed (so v2 reports them); the rest stay
// with v1, which rejects them as needing cgroup v2.
SplitResources SplitForHybrid(const oci::Resources& r, const std::set<std::string>& unified_only);

}  // namespace moor::runtime::cgroups
