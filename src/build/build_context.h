// The build context: the directory COPY and ADD read from, confined to its
// root and filtered by .dockerignore.
//
// Sources are resolved INSIDE the context: a cleaned source that starts with
// ".." and a symlink (in the path or as the source itself) that leads outside
// are refused with "COPY failed: forbidden path outside the build context: X"
// (openat2 RESOLVE_BENEATH does the confinement, so no race can escape). A
// source that is a symlink is followed (its target is copied, as Docker does);
// symlinks inside a copied directory are copied as symlinks.
//
// PlanCopy turns an instruction's sources into the list of entries to write
// and a digest over them (relative destination path, type, permission bits,
// symlink target, content sha256; not mtimes, as BuildKit) — the COPY/ADD part
// of the build cache key.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "build/dockerignore.h"
#include "common/error.h"
#include "common/fd.h"
#include "image/core/digest.h"

namespace moor::build {

enum class EntryKind { kFile, kDir, kSymlink };

struct CopyEntry {
  std::string src;   // path relative to the context root ("." = the root)
  std::string dest;  // relative to the destination ("" = the destination itself)
  EntryKind kind = EntryKind::kFile;
  uint32_t mode = 0;  // permission bits (07777)
  int64_t size = 0;
  struct timespec mtime {};
  std::string link_target;  // kSymlink
  image::Digest content;    // kFile
};

struct CopyPlan {
  // Parents come before their children.
  std::vector<CopyEntry> entries;
  // The destination is a directory: it ends in '/', or there are several
  // sources (after wildcards); single file sources go to DEST/basename then.
  bool dest_is_dir = false;
  // Top-level sources that are regular files (ADD extracts archives among them).
  std::vector<size_t> top_files;
  image::Digest digest;
};

class BuildContext {
 public:
  // dockerfile_rel: the Dockerfile's path inside the context ("" when outside).
  static Result<BuildContext> Open(const std::string& dir, const std::string& dockerfile_rel);

  const std::string& dir() const { return dir_; }
  const IgnoreMatcher& ignore() const { return ignore_; }
  int root_fd() const { return root_.get(); }

  // Another stage's or image's rootfs as the source of COPY --from: paths and
  // symlinks resolve inside it (absolute symlinks are relative to it), no
  // .dockerignore.
  static Result<BuildContext> OpenRootfs(const std::string& dir);

  // `what` is "COPY" or "ADD" (for messages); dest is the instruction's
  // destination as written (only its trailing '/' matters here).
  Result<CopyPlan> PlanCopy(const std::vector<std::string>& sources, std::string_view dest,
                            std::string_view what) const;

  // Opens a context path (relative, as in CopyEntry::src) beneath the root,
  // following symlinks only inside it.
  Result<UniqueFd> OpenBeneath(const std::string& rel, int flags) const;

 private:
  BuildContext(std::string dir, UniqueFd root, IgnoreMatcher ignore, bool in_root)
      : dir_(std::move(dir)), root_(std::move(root)), ignore_(std::move(ignore)), in_root_(in_root) {}

  std::string dir_;
  UniqueFd root_;
  IgnoreMatcher ignore_;
  bool in_root_ = false;  // RESOLVE_IN_ROOT instead of RESOLVE_BENEATH
};

// Digest of a list of entries (what PlanCopy stores in CopyPlan::digest).
image::Digest DigestEntries(const std::vector<CopyEntry>& entries, bool dest_is_dir);
// True when the source has glob characters ('*', '?', '[').
bool HasWildcard(std::string_view source);

}  // namespace moor::build
