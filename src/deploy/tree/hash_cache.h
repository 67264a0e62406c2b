// The deploy client's hash cache (docs/design/deploy.md §1 "Client hash
// cache"): what the last scan learnt, so that an unchanged file is not read
// again and an unchanged directory is not listed again.
//
// File format (little-endian integers, strings as u32 length + bytes):
//   "MOORHC1" u32 version, i64 write time (ns), 32-byte ignore-rules digest,
//   u32 file count, u32 directory count,
//   files sorted by path: path, u64 dev, u64 ino, i64 size, i64 mtime_ns,
//     i64 ctime_ns, u32 mode, sha256[32], u8 racy
//   directories sorted by path: path, u64 ino, i64 mtime_ns, i64 ctime_ns,
//     u8 racy, u32 count, then per name: u16 length + name, u8 type, u8 excluded
//   sha256[32] of everything before it.
// A file that is short, has a bad checksum or another version is ignored
// (everything is hashed again). Directory records are only used when the
// ignore-rules digest matches, as their verdicts come from those rules.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"

namespace moor::deploy {

// What identifies one version of a file: a hit needs every field equal.
struct FileKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint32_t mode = 0;  // st_mode (type and permission bits)
  bool operator==(const FileKey&) const = default;
};

// A file's digest as of the stat in `key`.
struct CachedFile {
  FileKey key;
  std::array<uint8_t, 32> sha256{};  // raw digest of the file's bytes
  bool racy = false;                 // timestamps too close to the scan that saw it: hash again next time
  bool operator==(const CachedFile&) const = default;
};

// One name in a directory, its kind as getdents64's d_type says (DT_REG, DT_DIR…)
// and its ignore verdict.
struct CachedName {
  std::string name;
  uint8_t type = 0;       // DT_* value
  bool excluded = false;  // the ignore rules' verdict for this path
  bool operator==(const CachedName&) const = default;
};

// One directory as it was listed: reused while (ino, mtime, ctime) are equal.
struct CachedDir {
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool racy = false;                // timestamps too close to the scan: list it again next time
  std::vector<CachedName> names{};  // sorted by name
  bool operator==(const CachedDir&) const = default;
};

// The cache of one code directory: file digests by relative path, directory
// listings by relative directory path ("" = the root).
class HashCache {
 public:
  static constexpr uint32_t kVersion = 1;  // the file format's version

  // Reads `path`. Missing → empty cache. Damaged or another version → empty
  // cache and `damaged` set (never an error: the cache is only an optimisation).
  static HashCache Load(const std::string& path, const std::array<uint8_t, 32>& rules_digest, bool* damaged);
  // Parses the bytes of a cache file; an error says what is wrong.
  static Result<HashCache> Decode(std::string_view bytes, const std::array<uint8_t, 32>& rules_digest);
  // The file's bytes (with write time `now_ns` and the trailing checksum).
  std::string Encode(int64_t now_ns) const;
  // Writes `path` through a temporary file and rename; creates its directory (0700).
  Result<void> Save(const std::string& path, int64_t now_ns) const;

  // The entry for a path relative to the scanned directory (nullptr if none);
  // the entry is marked as seen by this scan.
  const CachedFile* UseFile(std::string_view path);
  const CachedDir* UseDir(std::string_view path);
  // Adds or replaces an entry (marked as seen); a difference makes the cache dirty.
  void PutFile(std::string_view path, const CachedFile& f);
  void PutDir(std::string_view path, CachedDir d);
  // Removes the entries this scan did not see (deleted or now ignored paths).
  void DropUnseen();
  // True when Put or DropUnseen changed something since Load: Save is needed.
  bool dirty() const { return dirty_; }

  size_t file_count() const { return files_.size(); }
  size_t dir_count() const { return dirs_.size(); }
  // The digest of the ignore rules the directory records were made with.
  const std::array<uint8_t, 32>& rules_digest() const { return rules_digest_; }
  // The same entries and rules (seen marks, dirtiness and write time aside).
  bool SameEntries(const HashCache& o) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  template <class T>
  struct Slot {
    T value;
    bool seen = false;
    bool operator==(const Slot& o) const { return value == o.value; }
  };
  template <class T>
  using Map = std::unordered_map<std::string, Slot<T>, StringHash, std::equal_to<>>;

  std::array<uint8_t, 32> rules_digest_{};
  Map<CachedFile> files_;
  Map<CachedDir> dirs_;
  bool dirty_ = false;
  size_t seen_files_ = 0, seen_dirs_ = 0;  // entries marked seen
};

// 64 lowercase hex characters ↔ 32 bytes.
std::string HexOf(const std::array<uint8_t, 32>& raw);
// REQUIRES: hex is 64 lowercase hex characters.
std::array<uint8_t, 32> RawOf(std::string_view hex);

}  // namespace moor::deploy
