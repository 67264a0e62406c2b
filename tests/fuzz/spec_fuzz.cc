// Fuzz target: config.json text → ParseSpec → ValidateSpec → the pure
// planners (namespaces, rootfs, mount options, device rules) and the
// process/resources parsers. Nothing may crash, leak or trip a sanitizer,
// and a spec that validates must plan without contradiction.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "oci/spec.h"
#include "runtime/namespaces.h"
#include "runtime/rootfs_plan.h"

namespace {
// How far inputs got, printed at exit: a run where nothing parses tests little.
struct Reach {
  long parsed = 0, valid = 0, planned = 0;
  ~Reach() { std::fprintf(stderr, "spec_fuzz: %ld parsed, %ld valid, %ld planned\n", parsed, valid, planned); }
} reach;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)moor::oci::ParseProcess(text);
  (void)moor::oci::ParseResources(text);
  auto spec = moor::oci::ParseSpec(text);
  if (!spec) {
    if (spec.error().message().empty()) std::abort();  // every error says something
    return 0;
  }
  ++reach.parsed;
  if (!moor::oci::ValidateSpec(*spec)) return 0;
  ++reach.valid;
  (void)moor::runtime::PlanNamespaces(*spec);
  auto plan = moor::runtime::PlanRootfs(*spec, "/bundle", {}, false);
  if (plan) {
    ++reach.planned;
    // Every planned bind source is absolute; every device path came from the spec or defaults.
    for (const auto& m : plan->mounts)
      if (m.options.bind && (m.source.empty() || m.source[0] != '/')) std::abort();
    (void)moor::runtime::RequiredDeviceRules(*plan);
  }
  return 0;
}
