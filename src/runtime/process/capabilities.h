// Capability sets of the container process: pure planning from config names
// to 64-bit masks (parent), and the few syscalls that apply them (child).
//
// Order in the child (see ApplyCredentials in user.h, which does all three):
//   1. DropBoundingSet  — PR_CAPBSET_DROP needs CAP_SETPCAP in the effective
//                         set, which a switch to a non-root uid clears; so
//                         this comes first, while the child is still root.
//   2. SwitchUser       — with PR_SET_KEEPCAPS set around setresuid, the
//                         permitted set survives the uid change (effective
//                         is cleared by the kernel).
//   3. ApplyCapSets     — capset(2) sets effective/permitted/inheritable
//                         (effective restored from permitted), then ambient.
// After execve the kernel recomputes the sets: a root process gets
// bounding ∪ inheritable, a non-root one only its ambient set (no file caps).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::runtime::process {

// Bit n stands for capability number n (CAP_CHOWN = bit 0).
struct CapSets {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;

  bool operator==(const CapSets&) const = default;
};

// Pure. Unknown names are errors naming the set:
//   process.capabilities.ambient: unknown capability "CAP_FLY"
// An effective capability that is not permitted is an error too (the kernel
// refuses it). Inheritable is kept as given: see HasInheritable.
Result<CapSets> ComputeCapSets(const oci::Capabilities& caps,
                               const std::string& field = "process.capabilities");

// Mask of the named capabilities (pure; unknown names are errors naming `field`).
Result<uint64_t> CapMask(const std::vector<std::string>& names, const std::string& field);

// Names of the capabilities in `mask`, lowest first ("CAP_#41" for numbers
// without a name).
std::vector<std::string> CapNames(uint64_t mask);

// True when the config asks for inheritable capabilities. The policy layer
// warns: an inheritable set lets setuid/file-capability programs in the
// container regain capabilities (CVE-2022-24769).
bool HasInheritable(const CapSets& sets);

// Ambient capabilities the kernel will refuse to raise because they are not
// both permitted and inheritable. ApplyCapSets skips them (as crun does);
// the policy layer may warn with CapNames(UnraisableAmbient(sets)).
uint64_t UnraisableAmbient(const CapSets& sets);

// Mask of capabilities 0..last_cap.
uint64_t KernelCapMask(int last_cap);

// `sets` without capabilities the running kernel does not know (above
// last_cap); the caller may warn about CapNames(dropped bits), as runc does.
CapSets ClampToKernel(const CapSets& sets, int last_cap);

// Highest capability number of the running kernel, from
// /proc/sys/kernel/cap_last_cap. Parent only: the child must not read files.
Result<int> ReadLastCap(const std::string& path = "/proc/sys/kernel/cap_last_cap");

// ---- child side: syscalls only -------------------------------------------------

// Drops from the bounding set every capability 0..last_cap not in `keep`
// (PR_CAPBSET_DROP); capabilities already absent are skipped.
// REQUIRES: CAP_SETPCAP effective (call before switching to a non-root uid).
Result<void> DropBoundingSet(uint64_t keep, int last_cap);

// Sets effective, permitted and inheritable with capset(2) (version 3), then
// clears the ambient set and raises sets.ambient & permitted & inheritable.
// REQUIRES: sets.permitted ⊆ the current permitted set; sets.inheritable ⊆
// bounding set ∪ current inheritable; bits above the kernel's last cap cleared
// (ClampToKernel). Call after SwitchUser.
Result<void> ApplyCapSets(const CapSets& sets);

}  // namespace moor::runtime::process
