// The node's release store (docs/design/deploy.md §2–3): blobs and tree
// objects in a content store of their own at ROOT/deploy/content (verified on
// write, deduplicated across every release and service), materialised
// read-only release trees made of hardlinks at ROOT/deploy/releases/APP/SVC/N,
// and the `current` symlink the reload strategy flips atomically.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::deploy {

// "HEX64 SP SIZE \n BYTES", repeated: how blobs and tree objects travel in one
// request body. Encoding helper for clients and tests.
void AppendPackEntry(std::string* pack, const image::Digest& d, std::string_view bytes);

struct PackResult {
  std::vector<image::Digest> stored;  // in pack order (already present ones included)
  int64_t files = 0;                  // entries that were new to the store
  int64_t bytes = 0;                  // their bytes
};

struct HaveAnswer {
  std::vector<image::Digest> missing;        // absent (a partial one is listed here too)
  std::map<image::Digest, int64_t> partial;  // resumable offset of large blobs in progress
};

struct GcStats {
  int64_t blobs_removed = 0;
  int64_t bytes_freed = 0;
  int64_t ingests_removed = 0;
  int64_t exec_removed = 0;  // exec/ copies of removed (or vanished) blobs
};

// What one Materialise did (all zero when the release was already there).
struct MaterialiseStats {
  int64_t files = 0;      // file entries (hardlinks or copies)
  int64_t dirs = 0;       // directories made, the release's top one included
  int64_t symlinks = 0;   // symlinks made
  int64_t copies = 0;     // files copied because linkat failed with EMLINK or EXDEV
  int64_t exec_made = 0;  // exec/ copies made for this release
};

class ReleaseStore {
 public:
  // ROOT/deploy: makes content/, releases/; refuses when they are on
  // different filesystems (hardlinks need one).
  static Result<std::unique_ptr<ReleaseStore>> Open(const std::string& deploy_root);
  ~ReleaseStore();

  const std::string& root() const { return root_; }

  // ---- content
  bool Has(const image::Digest& d) const;
  // Of `trees`, those not present (a present tree has its whole subtree: the
  // closure invariant).
  std::vector<image::Digest> MissingTrees(std::span<const image::Digest> trees) const;
  // For blobs: absent ones, with the offset of partial large-blob ingests.
  HaveAnswer Have(std::span<const image::Digest> blobs) const;
  // Stores each entry of a pack after checking its bytes hash to its digest.
  // A bad entry (wrong digest, truncated, bad header) fails the call with
  // "blob sha256:A: content has digest sha256:B (corrupt upload)…"; entries
  // before it stay stored. Not synced (SyncBlobs).
  Result<PackResult> PutBlobPack(std::string_view pack);
  // Large blobs in pieces: appends `data` at `offset` of the blob's ingest
  // (total size `total`). A wrong offset → error with errnum ESPIPE and
  // *current_offset set to where the ingest is. Returns the new offset; at
  // `total` the blob is verified and committed (bad digest → error, ingest
  // dropped).
  Result<int64_t> PutBlobPart(const image::Digest& d, int64_t offset, int64_t total, std::string_view data,
                              int64_t* current_offset);
  // Tree objects, same framing; each must parse (ParseTree) and have every
  // child present (blob, exec-able blob or tree), else error naming the first
  // missing child ("tree sha256:T: missing blob sha256:B"), with `missing`
  // filled with every missing child of the failing tree.
  Result<PackResult> PutTreePack(std::string_view pack, std::vector<image::Digest>* missing = nullptr);
  // Makes every blob and tree durable (one syncfs): for uploads whose list of
  // written objects is not known in full (resumed after a restart, or a pack
  // that failed half way).
  Result<void> SyncAll();
  // Makes the named blobs and trees durable (fsync each, or one syncfs when many).
  Result<void> Sync(std::span<const image::Digest> digests);
  // Reads a tree object.
  Result<std::string> ReadTree(const image::Digest& d) const;

  // ---- releases
  // ROOT/deploy/releases/APP/SVC (made by EnsureServiceDir).
  std::string ServiceDir(const std::string& app, const std::string& svc) const;
  Result<void> EnsureServiceDir(const std::string& app, const std::string& svc);
  // Materialises tree `root` as ServiceDir/N (via .tmp-N, renamed when
  // complete; files are hardlinks of blobs 0444, exec files of 0555 copies,
  // directories 0555). An existing complete N is kept. Every tree and blob must
  // be present: a missing one fails with errnum ENOENT ("missing blob
  // sha256:X…") after the trees that name it were dropped from the store (they
  // no longer hold their closure), so the next session uploads them again.
  // Returns the release's path. One call per service at a time (the caller's
  // service lock).
  Result<std::string> Materialise(const std::string& app, const std::string& svc, int64_t release,
                                  const image::Digest& root, MaterialiseStats* stats = nullptr);
  // As Materialise, but an existing N is replaced: the new tree is built in
  // .tmp-N and swapped with N in one renameat2(RENAME_EXCHANGE), so a
  // `current` pointing at N never dangles; the old tree is removed after.
  // For a live tree CheckMaterialised found damaged (recovery).
  Result<std::string> Rematerialise(const std::string& app, const std::string& svc, int64_t release,
                                    const image::Digest& root, MaterialiseStats* stats = nullptr);
  // Keeps a complete copy of tree `root` at ServiceDir/.spare-<hex> (built
  // whole; any other spare is removed). The next Materialise of the service
  // takes it and patches only what differs from `root`, so a release that
  // changes a few files costs a few syscalls, not one per file. Run off the
  // critical path (the deploy service's janitor, after a release went live).
  Result<void> PrepareSpare(const std::string& app, const std::string& svc, const image::Digest& root);
  bool IsMaterialised(const std::string& app, const std::string& svc, int64_t release) const;
  // Checks that ServiceDir/N holds exactly tree `root` (names and types, via
  // fstatat; not file contents). Used after a reboot.
  Result<bool> CheckMaterialised(const std::string& app, const std::string& svc, int64_t release,
                                 const image::Digest& root) const;
  // Atomically points ServiceDir/current at N (symlink + rename + fsync).
  Result<void> SetCurrent(const std::string& app, const std::string& svc, int64_t release);
  // The release `current` points at, if any.
  std::optional<int64_t> Current(const std::string& app, const std::string& svc) const;
  // Release numbers materialised under ServiceDir.
  std::vector<int64_t> ListMaterialised(const std::string& app, const std::string& svc) const;
  // Removes ServiceDir/N (renamed to .tmp-N first, so a crash leaves only
  // what CleanTemp removes). The release `current` points at is refused.
  // Absent is not an error.
  Result<void> RemoveRelease(const std::string& app, const std::string& svc, int64_t release);
  // Removes .tmp-* leftovers of interrupted materialisations.
  Result<void> CleanTemp(const std::string& app, const std::string& svc);

  // ---- garbage collection (exclusive GcLock)
  // Marks every blob and tree reachable from `kept_roots`, removes the rest,
  // their exec copies, and ingests (and temp files) older than
  // `ingest_max_age_ns` that no writer holds. A kept tree that is absent is
  // skipped; one that cannot be read or parsed stops gc before anything is
  // removed. Release directories are the caller's (RemoveRelease).
  Result<GcStats> CollectGarbage(std::span<const image::Digest> kept_roots, int64_t ingest_max_age_ns);

  // Test hook: linkat of file entries in Materialise fails with `errnum`
  // (EMLINK, EXDEV) as if the filesystem had said so; 0 turns it off.
  void SetLinkFaultForTest(int errnum);

 private:
  struct Impl;
  // Materialise (replace = false) and Rematerialise (replace = true).
  Result<std::string> Build(const std::string& app, const std::string& svc, int64_t release, const image::Digest& root,
                            MaterialiseStats* stats, bool replace);
  explicit ReleaseStore(std::string root);
  std::string root_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::deploy
