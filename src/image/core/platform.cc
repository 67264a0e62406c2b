// Platforms: parsing "os/arch[/variant]", the host's platform, and choosing
// a manifest from an index the way Docker (containerd's platform matcher) does.
#include <sys/utsname.h>

#include <algorithm>

#include "image/core/manifest.h"

namespace moor::image {
namespace {

bool ValidPlatformPart(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// containerd's normalisation: GOARCH aliases, and the default variant of an
// architecture made explicit so that "arm64" == "arm64/v8" and "arm" == "arm/v7".
Platform Normalize(const Platform& p) {
  Platform n;
  n.os = Lower(p.os);
  n.architecture = Lower(p.architecture);
  n.variant = Lower(p.variant);
  if (n.architecture == "x86_64" || n.architecture == "x86-64") n.architecture = "amd64";
  if (n.architecture == "i386" || n.architecture == "i686") n.architecture = "386";
  if (n.architecture == "aarch64") n.architecture = "arm64";
  if (n.architecture == "armhf") {
    n.architecture = "arm";
    n.variant = "v7";
  }
  if (n.architecture == "armel") {
    n.architecture = "arm";
    n.variant = "v6";
  }
  if (n.architecture == "arm64") {
    if (n.variant.empty() || n.variant == "8" || n.variant == "v8.0") n.variant = "v8";
  } else if (n.architecture == "arm") {
    if (n.variant.empty()) n.variant = "v7";
    if (n.variant.size() == 1 && n.variant[0] >= '5' && n.variant[0] <= '8') n.variant = "v" + n.variant;
  } else if (n.architecture == "amd64") {
    if (n.variant == "v1") n.variant.clear();  // v1 is the baseline every amd64 runs
  }
  n.os_version.clear();
  return n;
}

bool IsAttestation(const Platform& p) {
  return p.os == "unknown" || p.architecture == "unknown";
}

}  // namespace

Result<Platform> ParsePlatform(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  for (;;) {
    size_t slash = s.find('/', pos);
    parts.push_back(s.substr(pos, slash == std::string_view::npos ? slash : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  bool ok = parts.size() == 2 || parts.size() == 3;
  for (auto part : parts) ok = ok && ValidPlatformPart(part);
  if (!ok) {
    return FailInvalid("platform \"" + std::string(s) +
                       "\" is not valid (want os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8)");
  }
  Platform p;
  p.os = std::string(parts[0]);
  p.architecture = std::string(parts[1]);
  if (parts.size() == 3) p.variant = std::string(parts[2]);
  return p;
}

std::string PlatformString(const Platform& p) {
  std::string out = p.os + "/" + p.architecture;
  if (!p.variant.empty()) out += "/" + p.variant;
  return out;
}

Platform HostPlatform() {
  struct utsname u {};
  return PlatformForMachine(uname(&u) == 0 ? std::string_view(u.machine) : std::string_view("x86_64"));
}

Platform PlatformForMachine(std::string_view machine) {
  Platform p;
  p.os = "linux";
  if (machine == "x86_64" || machine == "amd64") {
    p.architecture = "amd64";
  } else if (machine == "aarch64" || machine == "arm64") {
    p.architecture = "arm64";
    p.variant = "v8";
  } else if (machine == "armv8l") {
    // A 32-bit userland on a 64-bit core: it runs arm/v7 images, not arm64 ones.
    p.architecture = "arm";
    p.variant = "v7";
  } else if (machine.starts_with("armv7")) {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (machine.starts_with("armv6")) {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (machine.starts_with("armv5")) {
    p.architecture = "arm";
    p.variant = "v5";
  } else if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686") {
    p.architecture = "386";
  } else if (machine == "loongarch64") {
    p.architecture = "loong64";
  } else {
    // ppc64le, s390x, riscv64, mips64 … already use their GOARCH names.
    p.architecture = std::string(machine);
  }
  return p;
}

Result<Descriptor> SelectPlatform(const Index& index, const Platform& want) {
  const Platform w = Normalize(want);
  std::vector<const Descriptor*> candidates;
  for (const auto& d : index.manifests) {
    if (d.platform && !IsAttestation(*d.platform)) candidates.push_back(&d);
  }
  // 1: exact match of the platform as written.
  for (const auto* d : candidates) {
    const Platform& p = *d->platform;
    if (p.os == want.os && p.architecture == want.architecture && p.variant == want.variant) return *d;
  }
  // 2: equal after normalisation (aliases, default variants: arm64 == arm64/v8, arm == arm/v7).
  for (const auto* d : candidates) {
    Platform p = Normalize(*d->platform);
    if (p.os == w.os && p.architecture == w.architecture && p.variant == w.variant) return *d;
  }
  // 3: a variant missing on either side matches any variant of the same os/arch.
  for (const auto* d : candidates) {
    Platform p = Normalize(*d->platform);
    if (p.os == w.os && p.architecture == w.architecture &&
        (want.variant.empty() || d->platform->variant.empty())) {
      return *d;
    }
  }
  // 4: an ARM host runs images for older ARM variants (v7 runs v6 and v5); newest first.
  if (w.architecture == "arm" && w.variant.size() == 2 && w.variant[0] == 'v') {
    for (char v = static_cast<char>(w.variant[1] - 1); v >= '5'; --v) {
      for (const auto* d : candidates) {
        Platform p = Normalize(*d->platform);
        if (p.os == w.os && p.architecture == "arm" && p.variant == std::string("v") + v) return *d;
      }
    }
  }
  std::vector<std::string> have;
  for (const auto* d : candidates) have.push_back(PlatformString(*d->platform));
  std::sort(have.begin(), have.end());
  have.erase(std::unique(have.begin(), have.end()), have.end());
  std::string list;
  for (const auto& h : have) list += (list.empty() ? "" : ", ") + h;
  if (list.empty()) list = "no platforms";
  return FailInvalid("no image for platform " + PlatformString(want) +
                     " in the manifest list (it has: " + list + "); choose one with --platform");
}

}  // namespace moor::image
