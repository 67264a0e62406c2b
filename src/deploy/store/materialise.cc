// ReleaseStore::Materialise and its checks: a release tree as hardlinks of
// blobs (exec files of their 0555 copies), built in .tmp-N and renamed to N.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "deploy/store/fs_ops.h"
#include "deploy/store/pack.h"
#include "deploy/store/store_impl.h"
#include "deploy/tree/tree.h"
#include "image/gc.h"

namespace moor::deploy {

using store_detail::BlobSizeAt;
using store_detail::ListNames;
using store_detail::OpenDirAt;
using store_detail::ReadTreeAt;

namespace {

constexpr int kMaxDepth = 256;
constexpr int64_t kMaxLinkTarget = 4095;

Error TooDeep(const std::string& rel) {
  return Error::Invalid("tree is deeper than " + std::to_string(kMaxDepth) + " directories at " + rel);
}

// Builds one release below an open directory.
class Materialiser {
 public:
  Materialiser(int blobs_fd, int exec_fd, int link_fault, MaterialiseStats& stats)
      : blobs_fd_(blobs_fd), exec_fd_(exec_fd), link_fault_(link_fault), stats_(stats) {}

  // Fills `dirfd` with tree `d`; `rel` ("" or "a/b/") names it in errors.
  Result<void> Fill(int dirfd, const image::Digest& d, const std::string& rel, int depth) {
    if (depth > kMaxDepth) return Fail(TooDeep(rel));
    const Tree* t = TRY(Load(d));
    for (const auto& e : t->entries) TRY(Add(dirfd, e, rel, depth));
    return {};
  }

  // Turns `dirfd`, which holds tree `from`, into tree `to`: only the entries
  // that differ are touched, and only the subtrees whose digests differ are
  // entered (the Merkle tree's point). The directory is left writable (0755):
  // the caller makes it read-only.
  Result<void> Patch(int dirfd, const image::Digest& from, const image::Digest& to, const std::string& rel,
                     int depth) {
    if (depth > kMaxDepth) return Fail(TooDeep(rel));
    if (::fchmod(dirfd, 0755) != 0) return FailErrno("chmod " + (rel.empty() ? std::string(".") : rel));
    if (from == to) return {};
    const Tree* a = TRY(Load(from));
    const Tree* b = TRY(Load(to));
    size_t i = 0, j = 0;
    while (i < a->entries.size() || j < b->entries.size()) {
      const TreeEntry* x = i < a->entries.size() ? &a->entries[i] : nullptr;
      const TreeEntry* y = j < b->entries.size() ? &b->entries[j] : nullptr;
      int c = !x ? 1 : !y ? -1 : x->name.compare(y->name);
      if (c < 0) {
        TRY(Remove(dirfd, *x, rel));
        ++i;
      } else if (c > 0) {
        TRY(Add(dirfd, *y, rel, depth));
        ++j;
      } else {
        if (x->kind == EntryKind::kDir && y->kind == EntryKind::kDir) {
          if (x->digest != y->digest) {
            UniqueFd sub = TRY(OpenDirAt(dirfd, y->name));
            TRY(Patch(sub.get(), x->digest, y->digest, rel + y->name + "/", depth + 1));
            if (::fchmod(sub.get(), 0555) != 0) return FailErrno("chmod " + rel + y->name);
          }
        } else if (x->kind != y->kind || x->digest != y->digest) {
          TRY(Remove(dirfd, *x, rel));
          TRY(Add(dirfd, *y, rel, depth));
        }
        ++i;
        ++j;
      }
    }
    return {};
  }

  // Entries below tree `d`, counting no further than `limit`.
  Result<int64_t> CountEntries(const image::Digest& d, int64_t limit, int depth) {
    if (depth > kMaxDepth) return limit;
    const Tree* t = TRY(Load(d));
    int64_t n = 0;
    for (const auto& e : t->entries) {
      if (n >= limit) break;
      n += e.kind == EntryKind::kDir ? 1 + TRY(CountEntries(e.digest, limit - n, depth + 1)) : 1;
    }
    return n;
  }

  // How many entries Patch(from → to) would touch, counting no further than
  // `limit` (only trees are read, and only where digests differ).
  Result<int64_t> CountChanges(const image::Digest& from, const image::Digest& to, int64_t limit, int depth = 0) {
    if (from == to || depth > kMaxDepth) return 0;
    const Tree* a = TRY(Load(from));
    const Tree* b = TRY(Load(to));
    int64_t n = 0;
    size_t i = 0, j = 0;
    while ((i < a->entries.size() || j < b->entries.size()) && n < limit) {
      const TreeEntry* x = i < a->entries.size() ? &a->entries[i] : nullptr;
      const TreeEntry* y = j < b->entries.size() ? &b->entries[j] : nullptr;
      int c = !x ? 1 : !y ? -1 : x->name.compare(y->name);
      if (c != 0) {
        // An entry added or removed; a directory with everything in it.
        const TreeEntry* e = c < 0 ? x : y;
        if (e == nullptr) break;  // not reached: c says which side has an entry
        n += e->kind == EntryKind::kDir ? 1 + TRY(CountEntries(e->digest, limit - n, depth + 1)) : 1;
        if (c < 0) {
          ++i;
        } else {
          ++j;
        }
        continue;
      }
      if (x->kind == EntryKind::kDir && y->kind == EntryKind::kDir) {
        n += TRY(CountChanges(x->digest, y->digest, limit - n, depth + 1));
      } else if (x->kind != y->kind || x->digest != y->digest) {
        n += 2;
      }
      ++i;
      ++j;
    }
    return n;
  }

 private:
  // One entry of a tree, made in `dirfd`.
  Result<void> Add(int dirfd, const TreeEntry& e, const std::string& rel, int depth) {
    const std::string path = rel + e.name;
    switch (e.kind) {
      case EntryKind::kFile:
        TRY_CTX(LinkFile(blobs_fd_, e.digest, dirfd, e.name, 0444), path);
        break;
      case EntryKind::kExec: {
        bool made = TRY_CTX(store_detail::EnsureExecCopy(blobs_fd_, exec_fd_, e.digest), path);
        if (made) ++stats_.exec_made;
        TRY_CTX(LinkFile(exec_fd_, e.digest, dirfd, e.name, 0555), path);
        break;
      }
      case EntryKind::kSymlink: {
        const std::string* target = TRY_CTX(LinkTarget(e.digest), path);
        if (::symlinkat(target->c_str(), dirfd, e.name.c_str()) != 0) return FailErrno("symlink " + path);
        ++stats_.symlinks;
        break;
      }
      case EntryKind::kDir: {
        if (::mkdirat(dirfd, e.name.c_str(), 0700) != 0) return FailErrno("create " + path);
        ++stats_.dirs;
        UniqueFd sub = TRY(OpenDirAt(dirfd, e.name));
        TRY(Fill(sub.get(), e.digest, path + "/", depth + 1));
        // Read-only once filled.
        if (::fchmod(sub.get(), 0555) != 0) return FailErrno("chmod " + path);
        break;
      }
    }
    return {};
  }

  // An entry of the old tree that the new one has not (or not so).
  Result<void> Remove(int dirfd, const TreeEntry& e, const std::string& rel) {
    if (e.kind == EntryKind::kDir) return store_detail::RemoveTreeAt(dirfd, e.name);
    if (::unlinkat(dirfd, e.name.c_str(), 0) != 0 && errno != ENOENT) return FailErrno("remove " + rel + e.name);
    return {};
  }

  // Parsed trees by digest: equal subtrees are read once.
  Result<const Tree*> Load(const image::Digest& d) {
    if (auto it = trees_.find(d); it != trees_.end()) return &it->second;
    auto bytes = ReadTreeAt(blobs_fd_, d);
    if (!bytes) {
      if (bytes.error().errnum() == EIO) {
        // Dropped, so the next session uploads it again.
        ::unlinkat(blobs_fd_, d.hex().c_str(), 0);
        return Fail(Error(ENOENT, bytes.error().message() + "; it was removed"));
      }
      return Fail(std::move(bytes.error()));
    }
    Tree t = TRY_CTX(ParseTree(*bytes), "tree " + d.str());
    return &trees_.emplace(d, std::move(t)).first->second;
  }

  Result<const std::string*> LinkTarget(const image::Digest& d) {
    if (auto it = targets_.find(d); it != targets_.end()) return &it->second;
    auto bytes = store_detail::ReadFileAt(blobs_fd_, d.hex(), kMaxLinkTarget);
    if (!bytes) {
      if (bytes.error().errnum() == ENOENT) return Fail(Error(ENOENT, "missing blob " + d.str()));
      return Fail(std::move(bytes.error()).Wrap("symlink target " + d.str()));
    }
    if (image::Sha256Of(*bytes) != d) {
      ::unlinkat(blobs_fd_, d.hex().c_str(), 0);
      return Fail(Error(ENOENT, "blob " + d.str() + " was corrupt on disk and was removed"));
    }
    if (bytes->empty() || bytes->find('\0') != std::string::npos) {
      return FailInvalid("symlink target " + d.str() + " is empty or contains a NUL byte");
    }
    return &targets_.emplace(d, std::move(*bytes)).first->second;
  }

  // A hardlink of `src_dirfd`/<hex>; a copy with `mode` where the filesystem
  // refuses the link (EMLINK: too many links to that inode; EXDEV).
  Result<void> LinkFile(int src_dirfd, const image::Digest& d, int dirfd, const std::string& name, unsigned mode) {
    ++stats_.files;
    int err = link_fault_;
    if (err == 0) {
      if (::linkat(src_dirfd, d.hex().c_str(), dirfd, name.c_str(), 0) == 0) return {};
      err = errno;
    }
    if (err == EMLINK || err == EXDEV) {
      ++stats_.copies;
      auto c = store_detail::CopyFileAt(src_dirfd, d.hex(), dirfd, name, mode);
      if (!c && c.error().errnum() == ENOENT && BlobSizeAt(src_dirfd, d) < 0) {
        return Fail(Error(ENOENT, "missing blob " + d.str()));
      }
      return c;
    }
    if (err == ENOENT && BlobSizeAt(src_dirfd, d) < 0) return Fail(Error(ENOENT, "missing blob " + d.str()));
    return Fail(Error::FromErrno(err, "link " + name));
  }

  int blobs_fd_;
  int exec_fd_;
  int link_fault_;
  MaterialiseStats& stats_;
  std::map<image::Digest, Tree> trees_;
  std::map<image::Digest, std::string> targets_;
};

// After a failed materialisation: finds what below `root` is absent and
// removes every tree on a path to it (they no longer hold their closure, so
// MissingTrees reports them and the client uploads them and their children).
class BrokenTrees {
 public:
  explicit BrokenTrees(int blobs_fd) : blobs_fd_(blobs_fd) {}

  // True when tree `d` and everything below it are present.
  bool Complete(const image::Digest& d, int depth) {
    if (auto it = memo_.find(d); it != memo_.end()) return it->second;
    bool ok = true;
    auto bytes = ReadTreeAt(blobs_fd_, d);
    if (!bytes && bytes.error().errnum() != ENOENT && bytes.error().errnum() != EIO) {
      return memo_[d] = true;  // unreadable for another reason: not ours to drop
    }
    Result<Tree> t = bytes ? ParseTree(*bytes) : Result<Tree>(Fail(Error(bytes.error())));
    if (!t || depth > kMaxDepth) {
      Missing(d);
      ok = false;
    } else {
      for (const auto& e : t->entries) {
        if (e.kind == EntryKind::kDir) {
          if (!Complete(e.digest, depth + 1)) ok = false;
        } else if (BlobSizeAt(blobs_fd_, e.digest) < 0) {
          Missing(e.digest);
          ok = false;
        }
      }
    }
    if (!ok) ::unlinkat(blobs_fd_, d.hex().c_str(), 0);
    memo_[d] = ok;
    return ok;
  }

  const std::vector<image::Digest>& missing() const { return missing_; }

 private:
  void Missing(const image::Digest& d) {
    if (seen_.insert(d).second) missing_.push_back(d);
  }

  int blobs_fd_;
  std::map<image::Digest, bool> memo_;
  std::set<image::Digest> seen_;
  std::vector<image::Digest> missing_;
};

// ServiceDir/.spare-<root hex>: a complete copy of a tree, kept for the next materialisation.
constexpr const char* kSparePrefix = ".spare-";
// Changed entries beyond which a release is built whole rather than patched from the spare.
constexpr int64_t kSpareMaxChanges = 1000;


bool IsDirAt(int dirfd, const std::string& name) {
  struct stat st;
  return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Entries of an open directory, "." and ".." not counted; -1 on error.
int64_t CountEntries(int dirfd) {
  int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return -1;
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    return -1;
  }
  int64_t n = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  ::closedir(dir);
  return n;
}

// Compares an on-disk directory with a tree: names, types, sizes, modes.
class Checker {
 public:
  explicit Checker(int blobs_fd) : blobs_fd_(blobs_fd) {}

  Result<bool> Matches(int dirfd, const image::Digest& d, int depth) {
    if (depth > kMaxDepth) return Fail(TooDeep(d.str()));
    auto it = trees_.find(d);
    if (it == trees_.end()) {
      std::string bytes = TRY(ReadTreeAt(blobs_fd_, d));
      it = trees_.emplace(d, TRY_CTX(ParseTree(bytes), "tree " + d.str())).first;
    }
    const Tree& t = it->second;
    if (CountEntries(dirfd) != static_cast<int64_t>(t.entries.size())) return false;
    for (const auto& e : t.entries) {
      struct stat st;
      if (::fstatat(dirfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
      const unsigned mode = st.st_mode & 07777;
      switch (e.kind) {
        case EntryKind::kFile:
        case EntryKind::kExec:
          if (!S_ISREG(st.st_mode) || st.st_size != e.size) return false;
          if (mode != (e.kind == EntryKind::kFile ? 0444u : 0555u)) return false;
          break;
        case EntryKind::kSymlink:
          if (!S_ISLNK(st.st_mode) || st.st_size != e.size) return false;
          break;
        case EntryKind::kDir: {
          if (!S_ISDIR(st.st_mode) || mode != 0555) return false;
          auto sub = OpenDirAt(dirfd, e.name);
          if (!sub) return false;
          if (!TRY(Matches(sub->get(), e.digest, depth + 1))) return false;
          break;
        }
      }
    }
    return true;
  }

 private:
  int blobs_fd_;
  std::map<image::Digest, Tree> trees_;
};

}  // namespace

Result<std::string> ReleaseStore::Materialise(const std::string& app, const std::string& svc, int64_t release,
                                              const image::Digest& root, MaterialiseStats* stats) {
  return Build(app, svc, release, root, stats, false);
}

Result<std::string> ReleaseStore::Rematerialise(const std::string& app, const std::string& svc, int64_t release,
                                                const image::Digest& root, MaterialiseStats* stats) {
  return Build(app, svc, release, root, stats, true);
}

Result<std::string> ReleaseStore::Build(const std::string& app, const std::string& svc, int64_t release,
                                        const image::Digest& root, MaterialiseStats* stats_out, bool replace) {
  if (stats_out) *stats_out = {};
  if (release < 0) return FailInvalid("materialise: bad release number " + std::to_string(release));
  if (root.empty()) return FailInvalid("materialise: no root tree given");
  const std::string name = std::to_string(release);
  const std::string path = ServiceDir(app, svc) + "/" + name;
  const std::string ctx = "materialise release " + name + " of " + app + "/" + svc;
  TRY_CTX(EnsureServiceDir(app, svc), ctx);
  UniqueFd sfd = TRY_CTX(impl_->OpenServiceDir(app, svc), ctx);
  const bool exists = IsDirAt(sfd.get(), name);
  if (exists && !replace) return path;  // N appears only complete (rename)
  // Shared: gc must not remove blobs while they are being linked.
  image::GcLock lock = TRY_CTX(image::GcLock::Acquire(impl_->content.root(), image::GcLock::Mode::kShared), ctx);

  const std::string tmp = ".tmp-" + name;
  TRY_CTX(store_detail::RemoveTreeAt(sfd.get(), tmp), ctx);
  // A spare copy of an earlier tree (PrepareSpare) becomes this one by
  // patching what differs; else the tree is built whole.
  // Patching pays a removal and a link per change: with more than
  // kSpareMaxChanges the whole build is cheaper, and the spare is left for
  // the next release.
  std::optional<image::Digest> spare_root;
  if (!replace) {
    std::lock_guard<std::mutex> g(impl_->spare_mu);
    auto names = ListNames(sfd.get(), ServiceDir(app, svc));
    for (const auto& n : names ? *names : std::vector<std::string>{}) {
      if (!n.starts_with(kSparePrefix)) continue;
      auto d = image::Digest::Parse("sha256:" + n.substr(std::string(kSparePrefix).size()));
      if (!d) break;
      MaterialiseStats none;
      Materialiser probe(impl_->blobs_fd.get(), impl_->exec_fd.get(), 0, none);
      auto changes = probe.CountChanges(*d, root, kSpareMaxChanges);
      if (changes && *changes < kSpareMaxChanges && ::renameat(sfd.get(), n.c_str(), sfd.get(), tmp.c_str()) == 0)
        spare_root = *d;
      break;
    }
  }
  if (!spare_root && ::mkdirat(sfd.get(), tmp.c_str(), 0700) != 0) return FailErrno(ctx + ": create " + tmp);
  MaterialiseStats stats;
  bool raced = false;
  bool replaced = false;
  Result<void> r = [&]() -> Result<void> {
    UniqueFd top = TRY(OpenDirAt(sfd.get(), tmp));
    ++stats.dirs;
    Materialiser m(impl_->blobs_fd.get(), impl_->exec_fd.get(), impl_->link_fault.load(), stats);
    if (spare_root) {
      TRY(m.Patch(top.get(), *spare_root, root, "", 0));
    } else {
      TRY(m.Fill(top.get(), root, "", 0));
    }
    // exec copies are new files with data: durable before anything names them.
    if (stats.exec_made > 0 && ::syncfs(top.get()) != 0) return FailErrno("syncfs");
    if (::fchmod(top.get(), 0555) != 0) return FailErrno("chmod " + tmp);
    if (exists && replace) {
      // The old tree ends up at .tmp-N, removed below.
      if (::renameat2(sfd.get(), tmp.c_str(), sfd.get(), name.c_str(), RENAME_EXCHANGE) != 0) {
        return FailErrno("exchange " + tmp + " and " + name);
      }
      if (::fsync(sfd.get()) != 0) return FailErrno("fsync " + ServiceDir(app, svc));
      replaced = true;
      return {};
    }
    if (::renameat(sfd.get(), tmp.c_str(), sfd.get(), name.c_str()) != 0) {
      // Someone else completed N meanwhile; theirs stays.
      if ((errno == ENOTEMPTY || errno == EEXIST) && IsDirAt(sfd.get(), name)) {
        raced = true;
        return {};
      }
      return FailErrno("rename " + tmp + " to " + name);
    }
    if (::fsync(sfd.get()) != 0) return FailErrno("fsync " + ServiceDir(app, svc));
    return {};
  }();
  if (!r || raced || replaced) (void)store_detail::RemoveTreeAt(sfd.get(), tmp);
  if (!r) {
    if (r.error().errnum() == ENOENT) {
      BrokenTrees broken(impl_->blobs_fd.get());
      broken.Complete(root, 0);
      const auto& missing = broken.missing();
      if (!missing.empty()) {
        std::string more = missing.size() > 1 ? " (and " + std::to_string(missing.size() - 1) + " more)" : "";
        return Fail(Error(ENOENT, ctx + ": missing blob " + missing.front().str() + more +
                                      "; the trees naming it were dropped, " +
                                      std::string(store_detail::kDeployAgain)));
      }
    }
    return Fail(std::move(r.error()).Wrap(ctx));
  }
  if (stats_out && !raced) *stats_out = stats;
  return path;
}

Result<void> ReleaseStore::PrepareSpare(const std::string& app, const std::string& svc, const image::Digest& root) {
  const std::string ctx = "prepare a spare tree for " + app + "/" + svc;
  std::lock_guard<std::mutex> g(impl_->spare_mu);
  UniqueFd sfd = TRY_CTX(impl_->OpenServiceDir(app, svc), ctx);
  const std::string want = kSparePrefix + root.hex();
  bool have = false;
  for (const auto& n : TRY_CTX(ListNames(sfd.get(), ServiceDir(app, svc)), ctx)) {
    if (n == want) {
      have = true;
    } else if (n.starts_with(kSparePrefix)) {
      TRY_CTX(store_detail::RemoveTreeAt(sfd.get(), n), ctx);
    }
  }
  if (have) return {};
  image::GcLock lock = TRY_CTX(image::GcLock::Acquire(impl_->content.root(), image::GcLock::Mode::kShared), ctx);
  const std::string tmp = ".tmp-spare";
  TRY_CTX(store_detail::RemoveTreeAt(sfd.get(), tmp), ctx);
  if (::mkdirat(sfd.get(), tmp.c_str(), 0700) != 0) return FailErrno(ctx + ": create " + tmp);
  Result<void> r = [&]() -> Result<void> {
    UniqueFd top = TRY(OpenDirAt(sfd.get(), tmp));
    MaterialiseStats stats;
    Materialiser m(impl_->blobs_fd.get(), impl_->exec_fd.get(), impl_->link_fault.load(), stats);
    TRY(m.Fill(top.get(), root, "", 0));
    if (::fchmod(top.get(), 0555) != 0) return FailErrno("chmod " + tmp);
    if (::renameat(sfd.get(), tmp.c_str(), sfd.get(), want.c_str()) != 0) return FailErrno("rename " + tmp);
    return {};
  }();
  if (!r) {
    (void)store_detail::RemoveTreeAt(sfd.get(), tmp);
    return Fail(std::move(r.error()).Wrap(ctx));
  }
  return {};
}

bool ReleaseStore::IsMaterialised(const std::string& app, const std::string& svc, int64_t release) const {
  auto sfd = impl_->OpenServiceDir(app, svc);
  return sfd && release >= 0 && IsDirAt(sfd->get(), std::to_string(release));
}

Result<bool> ReleaseStore::CheckMaterialised(const std::string& app, const std::string& svc, int64_t release,
                                             const image::Digest& root) const {
  auto sfd = impl_->OpenServiceDir(app, svc);
  if (!sfd) return false;
  auto top = OpenDirAt(sfd->get(), std::to_string(release));
  if (!top) return false;
  struct stat st;
  if (::fstat(top->get(), &st) != 0 || (st.st_mode & 07777) != 0555) return false;
  Checker c(impl_->blobs_fd.get());
  return TRY_CTX(c.Matches(top->get(), root, 0), "check release " + std::to_string(release) + " of " + app + "/" + svc);
}

}  // namespace moor::deploy
