// What the extractor knows about one tar entry, independent of libarchive,
// and the state one extraction carries from entry to entry.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "image/archive/extract.h"

namespace moor::image {

struct TarEntry {
  std::string raw_name;  // as in the tar, for messages
  std::string path;      // CleanEntryPath(raw_name); "" is the root itself
  mode_t type = 0;       // S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO
  mode_t perm = 0;       // 07777 bits, setuid/setgid/sticky included
  uint32_t uid = 0, gid = 0;
  bool has_mtime = false;
  int64_t mtime_sec = 0;
  long mtime_nsec = 0;
  int64_t size = 0;
  bool hardlink = false;
  std::string link;  // symlink target verbatim, or the hardlink target's raw name
  dev_t rdev = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// Streams a regular file's data into fd (provided by the tar reader; it
// enforces the size limits).
using DataWriter = std::function<Result<void>(int fd)>;

struct DeferredDir {
  std::string path;
  mode_t perm;
  bool has_mtime;
  int64_t mtime_sec;
  long mtime_nsec;
};

// The last parent directory resolved, reused while entries stay in it (tar
// entries come grouped by directory): saves an openat2 walk per entry. The fd
// came from OpenDirInRoot, so it is confined like a fresh one; `valid` is
// cleared whenever an entry removes or replaces anything (and on every
// directory and whiteout entry), since only a removal can change what a path
// resolves to — creating names never does. Invalidating keeps the fd open: a
// caller may still be using it for the current entry.
struct ParentCache {
  bool valid = false;
  std::string path;
  UniqueFd fd;
};

struct ExtractState {
  int root_fd;
  const ExtractOptions& opts;
  // Directory modes and mtimes are applied at the end, deepest first: writing
  // children would bump the mtime, and a read-only mode would block them.
  std::vector<DeferredDir> dirs;
  // Flatten mode: paths written by this layer, which an opaque whiteout in the
  // same layer must not delete.
  std::unordered_set<std::string> written;
  ParentCache parent;
};

// Creates the entry beneath st.root_fd (parents made as needed) and applies
// its metadata. Every error names the entry.
Result<void> WriteEntry(ExtractState& st, const TarEntry& e, const DataWriter& data);
// ".wh.NAME" / ".wh..wh..opq" entries (REQUIRES: IsWhiteout(e.path)).
Result<void> ApplyWhiteout(ExtractState& st, const TarEntry& e);
bool IsWhiteout(const std::string& clean_path);
// Applies the deferred directory modes and mtimes.
Result<void> FinishDirectories(ExtractState& st);

}  // namespace moor::image
