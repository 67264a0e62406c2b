// Fuzz target: registry documents → DetectManifestKind, ParseManifest,
// ParseIndex, ParseImageConfig (and image references). Nothing may crash or
// trip a sanitizer; every error says something; whatever parses must survive
// Serialize → Parse unchanged, and serialising again gives the same bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "image/core/manifest.h"
#include "image/core/reference.h"

namespace {

// How far inputs got, printed at exit: a run where nothing parses tests little.
struct Reach {
  long manifests = 0, indexes = 0, configs = 0, references = 0;
  ~Reach() {
    std::fprintf(stderr, "manifest_fuzz: %ld manifests, %ld indexes, %ld configs, %ld references parsed\n",
                 manifests, indexes, configs, references);
  }
} reach;

template <class T>
void CheckError(const moor::Result<T>& r) {
  if (!r && r.error().message().empty()) std::abort();  // every error says something
}

// Parse(Serialize(x)) == x, and the canonical form is a fixed point.
template <class T, class Ser, class Par>
void RoundTrip(const T& value, Ser serialize, Par parse) {
  std::string text = serialize(value);
  auto again = parse(text);
  if (!again) {
    std::fprintf(stderr, "round trip failed: %s\n%s\n", again.error().message().c_str(), text.c_str());
    std::abort();
  }
  if (!(*again == value) || serialize(*again) != text) {
    std::fprintf(stderr, "round trip changed the document:\n%s\n", text.c_str());
    std::abort();
  }
}

void FuzzReference(std::string_view text) {
  if (text.size() > 512) return;
  auto ref = moor::image::Reference::Parse(text);
  CheckError(ref);
  if (!ref) return;
  ++reach.references;
  // The normalised form parses to itself.
  auto again = moor::image::Reference::Parse(ref->String());
  if (!again || again->String() != ref->String() || again->Familiar() != ref->Familiar()) std::abort();
  (void)ref->ManifestRef();
  (void)ref->RegistryHost();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moor::image;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto kind = DetectManifestKind("", text);
  CheckError(kind);

  auto manifest = ParseManifest(text);
  CheckError(manifest);
  if (manifest) {
    ++reach.manifests;
    // A manifest that names its type is detected as one (untyped documents may be ambiguous).
    if (!manifest->media_type.empty() && kind != ManifestKind::kManifest) std::abort();
    RoundTrip(*manifest, SerializeManifest, ParseManifest);
    for (const auto& layer : manifest->layers) CheckError(LayerCompression(layer.media_type));
  }

  auto index = ParseIndex(text);
  CheckError(index);
  if (index) {
    ++reach.indexes;
    if (!index->media_type.empty() && kind != ManifestKind::kIndex) std::abort();
    RoundTrip(*index, SerializeIndex, ParseIndex);
    auto chosen = SelectPlatform(*index, HostPlatform());
    CheckError(chosen);
    if (chosen) {
      // The choice is one of the index's entries and never an attestation.
      if (!chosen->platform || chosen->platform->os == "unknown") std::abort();
    }
  }

  auto config = ParseImageConfig(text);
  CheckError(config);
  if (config) {
    ++reach.configs;
    RoundTrip(*config, SerializeImageConfig, ParseImageConfig);
    auto chain = ChainIds(config->diff_ids);
    if (chain.size() != config->diff_ids.size()) std::abort();
    if (!chain.empty() && chain.front() != config->diff_ids.front()) std::abort();
  }

  FuzzReference(text);
  return 0;
}
