#include "runtime/process/capabilities.h"

#include "common/file.h"
#include "common/strings.h"
#include "oci/capability_names.h"

namespace moor::runtime::process {

Result<uint64_t> CapMask(const std::vector<std::string>& names, const std::string& field) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    auto cap = oci::CapabilityFromName(names[i]);
    if (!cap || *cap > 63)
      return FailInvalid(field + ": unknown capability \"" + names[i] +
                         "\" (expected a name like CAP_NET_BIND_SERVICE)");
    mask |= uint64_t{1} << *cap;
  }
  return mask;
}

Result<CapSets> ComputeCapSets(const oci::Capabilities& caps, const std::string& field) {
  CapSets s;
  s.bounding = TRY(CapMask(caps.bounding, field + ".bounding"));
  s.effective = TRY(CapMask(caps.effective, field + ".effective"));
  s.permitted = TRY(CapMask(caps.permitted, field + ".permitted"));
  s.inheritable = TRY(CapMask(caps.inheritable, field + ".inheritable"));
  s.ambient = TRY(CapMask(caps.ambient, field + ".ambient"));
  if (uint64_t extra = s.effective & ~s.permitted)
    return FailInvalid(field + ".effective: " + Join(CapNames(extra), ", ") +
                       " not in the permitted set; the kernel only makes permitted "
                       "capabilities effective (add them to permitted)");
  return s;
}

std::vector<std::string> CapNames(uint64_t mask) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i) {
    if (!(mask & (uint64_t{1} << i))) continue;
    const char* name = oci::CapabilityName(i);
    out.push_back(name ? name : "CAP_#" + std::to_string(i));
  }
  return out;
}

bool HasInheritable(const CapSets& sets) { return sets.inheritable != 0; }

uint64_t UnraisableAmbient(const CapSets& sets) {
  return sets.ambient & ~(sets.permitted & sets.inheritable);
}

uint64_t KernelCapMask(int last_cap) {
  if (last_cap < 0) return 0;
  if (last_cap >= 63) return ~uint64_t{0};
  return (uint64_t{1} << (last_cap + 1)) - 1;
}

CapSets ClampToKernel(const CapSets& sets, int last_cap) {
  uint64_t m = KernelCapMask(last_cap);
  return CapSets{sets.bounding & m, sets.effective & m, sets.permitted & m, sets.inheritable & m,
                 sets.ambient & m};
}

Result<int> ReadLastCap(const std::string& path) {
  std::string text = TRY_CTX(ReadFile(path), "read the kernel's last capability");
  auto n = ParseInt(Trim(text));
  if (!n || *n < 0 || *n > 63)
    return FailInvalid(path + ": unexpected content \"" + std::string(Trim(text)) + "\"");
  return static_cast<int>(*n);
}

}  // namespace moor::runtime::process
