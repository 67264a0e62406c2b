// Fuzz target: deploy tree objects → ParseTree. Nothing may crash or trip a
// sanitizer; every error says something; whatever parses is canonical, so
// encoding it again gives exactly the input, and entries are sorted, unique
// and valid.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "deploy/tree/tree.h"

namespace {

// How far inputs got, printed at exit: a run where nothing parses tests little.
struct Reach {
  long parsed = 0, entries = 0, refused = 0;
  ~Reach() {
    std::fprintf(stderr, "tree_fuzz: %ld trees parsed (%ld entries), %ld refused\n", parsed, entries, refused);
  }
} reach;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moor::deploy;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto tree = ParseTree(bytes);
  if (!tree) {
    if (tree.error().message().empty()) std::abort();  // every error says something
    ++reach.refused;
    return 0;
  }
  ++reach.parsed;
  reach.entries += static_cast<long>(tree->entries.size());
  auto again = EncodeTree(*tree);
  if (!again || *again != bytes) {
    std::fprintf(stderr, "tree_fuzz: a parsed tree does not encode to its input\n");
    std::abort();
  }
  for (size_t i = 0; i < tree->entries.size(); ++i) {
    const TreeEntry& e = tree->entries[i];
    if (!CheckEntryName(e.name)) std::abort();
    if (i > 0 && !(tree->entries[i - 1].name < e.name)) std::abort();
    if (e.size < 0 || (e.kind == EntryKind::kDir && e.size != 0)) std::abort();
  }
  if (TreeDigest(bytes) != moor::image::Sha256Of(bytes)) std::abort();
  return 0;
}
