// Planning: OCI linux.resources → the list of cgroup file writes that applies
// them. Pure functions: the few facts about the live cgroup they need (which
// optional files exist, the current memory limit, …) come in a *State struct
// the manager fills before planning. The executor (cgroupfs.h) is a short loop.
//
// Both planners follow runc's semantics: an absent field, and a zero for the
// numeric fields runc treats as "unset" (memory limit/reservation/swap, cpu
// shares/quota/period/realtime, blkio weight), leaves the file untouched, so the
// same plan serves `create` and `update`. -1 means unlimited ("max" on v2).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime::cgroups {

struct CgroupWrite {
  // v1: the hierarchy (controller) whose directory holds `file`. v2: the
  // controller the file belongs to ("memory", "io", "cgroup"); all files are in
  // the one directory.
  std::string controller;
  std::string file;
  std::string value;
  // The executor ignores EINVAL from this write: a later write of the same plan
  // repeats it (cpu period written before and after the quota, as the kernel
  // may refuse a new period until the quota fits it).
  bool retried_later = false;

  bool operator==(const CgroupWrite&) const = default;
};

// What the v1 planner needs to know about the host and the live cgroup.
struct V1State {
  std::set<std::string> controllers;         // mounted v1 controllers
  std::vector<std::string> hugepage_sizes;   // "2MB", "1GB"
  bool has_memsw = true;                     // memory.memsw.limit_in_bytes exists (swap accounting)
  std::optional<uint64_t> memory_limit;      // current memory.limit_in_bytes; nullopt = unlimited/new
  std::string blkio_weight_prefix = "blkio.";  // "blkio." (CFQ) or "blkio.bfq." (BFQ)
};

// What the v2 planner needs to know about the host and the live cgroup.
struct V2State {
  std::set<std::string> controllers;         // controllers this cgroup may use
  std::vector<std::string> hugepage_sizes;
  bool has_swap_max = true;                  // memory.swap.max exists (swap accounting)
  bool has_io_bfq_weight = false;            // io.bfq.weight exists: weights go there unconverted
  std::optional<std::string> cpu_max;        // current cpu.max ("max 100000")
  std::optional<uint64_t> memory_current;    // memory.current, for memory.checkBeforeUpdate
};

// Fails with a one-line error on bad input or on a controller the state lacks
// but the resources use; never on a controller that is missing and unused.
Result<std::vector<CgroupWrite>> PlanV1Writes(const oci::Resources& r, const V1State& s);
Result<std::vector<CgroupWrite>> PlanV2Writes(const oci::Resources& r, const V2State& s);

// --- conversions shared with tests (runc 1.1's formulas) ---

// cpu.shares [2, 262144] → cpu.weight [1, 10000], linear; 0 stays 0.
uint64_t CpuSharesToWeight(uint64_t shares);
// blkio.weight [10, 1000] → io.weight [1, 10000], linear; 0 stays 0.
uint64_t BlkioWeightToIoWeight(uint64_t weight);
// OCI swap (memory+swap, 0 = unset) → memory.swap.max (swap only): nullopt =
// leave alone, -1 = unlimited, else bytes (0 when swap equals the limit: no
// swap at all). A limit of -1 with swap unset gives -1 (both unlimited).
Result<std::optional<int64_t>> SwapToV2(int64_t swap, int64_t limit);

}  // namespace moor::runtime::cgroups
