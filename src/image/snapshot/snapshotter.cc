// Snapshot bookkeeping: open, lookup, list, adopt, remove, clean, scratch
// dirs. Unpacking (which needs the extractor and the store) is unpack.cc.
#include "image/snapshot/snapshotter.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/file.h"
#include "image/snapshot/layout.h"

namespace moor::image {

using namespace snapshot_internal;

namespace {

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::vector<std::string> DirNames(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<Snapshotter> Snapshotter::Open(std::string root) {
  if (root.empty()) return FailInvalid("snapshot root is empty");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  for (const char* sub : {"/sha256", "/tmp", "/locks"})
    TRY_CTX(MkdirAll(root + sub, 0700), "open snapshots at " + root);
  return Snapshotter(std::move(root));
}

bool Snapshotter::Has(const Digest& chain_id) const {
  // The snapshot dir appears by one rename after meta.json was written, so
  // its presence means the snapshot is complete.
  struct stat st;
  return !chain_id.empty() && ::lstat((SnapshotDir(root_, chain_id) + "/meta.json").c_str(), &st) == 0;
}

std::string Snapshotter::Path(const Digest& chain_id) const {
  return SnapshotDir(root_, chain_id) + "/fs";
}

Result<std::string> Snapshotter::MakeTemp() const {
  std::string tmpl = root_ + "/tmp/XXXXXX";
  if (!::mkdtemp(tmpl.data())) return FailErrno("make scratch dir under " + root_ + "/tmp");
  return tmpl;
}

Result<std::string> Snapshotter::Adopt(const std::string& dir, const Digest& chain_id,
                                       const Digest& diff_id) {
  if (chain_id.empty() || diff_id.empty()) return FailInvalid("adopt snapshot: empty chain id or diff id");
  std::string ctx = "adopt " + dir + " as snapshot " + chain_id.str();
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return Fail(Error::FromErrno(ctx));
  if (!S_ISDIR(st.st_mode)) return Fail(Error(ENOTDIR, ctx + ": not a directory"));
  UniqueFd lock = TRY_CTX(LockFile(LockPath(root_, chain_id)), ctx);
  if (Has(chain_id)) {
    // Same chain id: the same content is already there; the copy is surplus.
    TRY_CTX(RemoveTree(dir), ctx);
    return Path(chain_id);
  }
  Meta meta{
      .diff_id = diff_id, .blob = {}, .size = TRY_CTX(TreeBytes(dir), ctx), .unpacked_at = NowRfc3339()};
  std::string tmp = TRY_CTX(MakeTemp(), ctx);
  if (::rename(dir.c_str(), (tmp + "/fs").c_str()) != 0) {
    Error e = errno == EXDEV
                  ? Error(EXDEV, ctx + ": the directory must be on the same filesystem as " + root_)
                  : Error::FromErrno(ctx + ": rename");
    (void)RemoveTree(tmp);
    return Fail(std::move(e));
  }
  auto finish = [&]() -> Result<void> {
    TRY(WriteMeta(tmp, meta));
    if (::rename(tmp.c_str(), SnapshotDir(root_, chain_id).c_str()) != 0)
      return FailErrno("rename into place");
    return {};
  };
  if (auto r = finish(); !r) {
    // Give the directory back rather than lose the caller's data.
    (void)::rename((tmp + "/fs").c_str(), dir.c_str());
    (void)RemoveTree(tmp);
    return Fail(std::move(r.error()).Wrap(ctx));
  }
  return Path(chain_id);
}

std::vector<Digest> Snapshotter::List() const {
  std::vector<Digest> out;
  for (const auto& name : DirNames(root_ + "/sha256")) {
    if (!IsHex64(name)) continue;
    Digest d = Digest::FromHex(name);
    if (Has(d)) out.push_back(std::move(d));
  }
  return out;
}

Result<void> Snapshotter::Remove(const Digest& chain_id) {
  std::string ctx = "remove snapshot " + chain_id.str();
  if (chain_id.empty()) return FailInvalid("remove snapshot: empty chain id");
  UniqueFd lock = TRY_CTX(LockFile(LockPath(root_, chain_id)), ctx);
  std::string dir = SnapshotDir(root_, chain_id);
  if (!PathExists(dir)) return {};
  // Move it out of sha256/ first (atomic) so a crash halfway through the
  // deletion cannot leave a half-empty snapshot that Has() would report.
  std::string tmp = TRY_CTX(MakeTemp(), ctx);
  std::string doomed = tmp + "/old";
  if (::rename(dir.c_str(), doomed.c_str()) != 0) {
    Error e = Error::FromErrno(ctx + ": rename");
    (void)RemoveTree(tmp);
    return Fail(std::move(e));
  }
  TRY_CTX(RemoveTree(tmp), ctx);
  // The lock file stays: unlinking it would let a waiter lock a dead inode
  // while a newcomer locks a fresh file, and both would proceed.
  return {};
}

Result<void> Snapshotter::Clean() {
  std::string tmp_root = root_ + "/tmp";
  for (const auto& name : DirNames(tmp_root)) {
    std::string path = tmp_root + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      // An unpack in progress (any process) holds a flock on its dir.
      UniqueFd held = TRY_CTX(TryLockDir(path), "clean snapshots");
      if (!held) continue;
    }
    TRY_CTX(RemoveTree(path), "clean snapshots");
  }
  return {};
}

}  // namespace moor::image
