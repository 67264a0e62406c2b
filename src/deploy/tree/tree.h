// Release trees: a code directory as a Merkle tree of canonical tree objects
// (docs/design/deploy.md §1). A leaf is a blob (a file's bytes, or a symlink's
// target text); a directory is a tree object, itself stored as a blob. The
// root tree's digest is the release's code digest; equal subtrees have equal
// digests. Encoding (one line per entry, sorted by name bytes):
//   moor-tree 1\n
//   KIND SP HEX64 SP SIZE SP NAMELEN ":" NAME \n
// KIND: f file (0444) · x executable file (0555) · d directory (HEX64 = its
// tree's digest, SIZE 0) · l symlink (HEX64 = sha256 of the target text, SIZE
// = its length). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::deploy {

enum class EntryKind : char { kFile = 'f', kExec = 'x', kDir = 'd', kSymlink = 'l' };

struct TreeEntry {
  EntryKind kind = EntryKind::kFile;
  image::Digest digest;
  int64_t size = 0;  // bytes of the blob; 0 for kDir
  std::string name;  // one path component
  bool operator==(const TreeEntry&) const = default;
};

struct Tree {
  std::vector<TreeEntry> entries;  // sorted by name (memcmp order), unique
};

constexpr int64_t kMaxTreeBytes = 16 << 20;
constexpr size_t kMaxNameBytes = 255;

// Empty, ".", "..", containing '/' or NUL, or longer than 255 bytes → error
// naming the entry.
Result<void> CheckEntryName(std::string_view name);

// Canonical bytes. Sorts a copy of the entries; an invalid or duplicate name
// is an error (so Encode never produces bytes Parse refuses).
Result<std::string> EncodeTree(const Tree& t);
// Parses and checks canonical form (re-encodes and compares): unsorted,
// duplicate, bad names, bad kinds, sizes or digests, trailing bytes → error.
Result<Tree> ParseTree(std::string_view bytes);
// sha256 of EncodeTree's bytes.
image::Digest TreeDigest(std::string_view encoded);

}  // namespace moor::deploy
