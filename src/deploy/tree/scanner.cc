#include "deploy/tree/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <unordered_set>

#include "common/fd.h"
#include "deploy/tree/file_hasher.h"
#include "deploy/tree/hash_cache.h"
#include "deploy/tree/ignore_rules.h"
#include "deploy/tree/scan_error.h"

namespace moor::deploy {

namespace {

// Timestamps this close to the scan's start may still change within the same
// tick of the kernel's coarse clock: such entries are checked again next time.
constexpr int64_t kRacyWindowNs = 20'000'000;
constexpr int kMaxDepth = 256;
constexpr size_t kDentsBytes = 64 << 10;

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t Ns(const statx_timestamp& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::string Join(const std::string& rel, std::string_view name) {
  return rel.empty() ? std::string(name) : rel + "/" + std::string(name);
}

const char* TypeName(uint8_t type) {
  switch (type) {
    case DT_FIFO:
      return "a FIFO";
    case DT_SOCK:
      return "a socket";
    case DT_CHR:
      return "a character device";
    case DT_BLK:
      return "a block device";
    default:
      return "a special file";
  }
}

uint8_t TypeOfMode(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return DT_REG;
    case S_IFDIR:
      return DT_DIR;
    case S_IFLNK:
      return DT_LNK;
    case S_IFIFO:
      return DT_FIFO;
    case S_IFSOCK:
      return DT_SOCK;
    case S_IFCHR:
      return DT_CHR;
    case S_IFBLK:
      return DT_BLK;
    default:
      return DT_UNKNOWN;
  }
}

// Whether a symlink at `rel` pointing to `target` resolves outside the tree
// (lexically, as the container would see it).
bool LeavesTree(const std::string& rel, std::string_view target) {
  long depth = static_cast<long>(std::count(rel.begin(), rel.end(), '/'));  // the link's directory depth
  size_t pos = 0;
  while (pos <= target.size()) {
    size_t next = target.find('/', pos);
    if (next == std::string_view::npos) next = target.size();
    std::string_view part = target.substr(pos, next - pos);
    if (part == "..") {
      if (--depth < 0) return true;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    pos = next + 1;
  }
  return false;
}

struct Item {
  std::string name;
  EntryKind kind = EntryKind::kFile;
  int64_t size = 0;
  image::Digest digest{};  // a file's or symlink's blob
  int child = -1;          // a directory: its node
  int job = -1;            // a file to hash: its job
};

struct Node {
  std::string rel;        // "" = the root
  bool excluded = false;  // excluded, walked for "!" exceptions: dropped if nothing is kept
  std::vector<Item> items{};
  image::Digest digest{};  // its tree's, once built
  bool dropped = false;
};

class Walker {
 public:
  Walker(const ScanOptions& o, std::string root_abs, const IgnoreRules& rules, HashCache* cache, ScanResult& res)
      : o_(o), root_abs_(std::move(root_abs)), rules_(rules), cache_(cache), res_(res) {
    racy_limit_ = NowNs() - kRacyWindowNs;
  }

  Result<void> Walk(int root_fd);
  Result<void> Hash(int root_fd);
  Result<void> BuildTrees();

 private:
  Result<void> WalkDir(int fd, int node, int depth);
  // The directory's names, types and verdicts: from the cache if it is unchanged.
  Result<const std::vector<CachedName>*> List(int fd, const std::string& rel, std::vector<CachedName>& fresh);
  Result<void> AddFile(int fd, int node, const CachedName& n, const std::string& rel);
  Result<void> AddSymlink(int fd, int node, const CachedName& n, const std::string& rel);
  std::string Shown(const std::string& rel) const { return "\"" + Join(root_abs_, rel) + "\""; }
  bool Racy(int64_t mtime_ns, int64_t ctime_ns) const { return mtime_ns >= racy_limit_ || ctime_ns >= racy_limit_; }

  const ScanOptions& o_;
  std::string root_abs_;
  const IgnoreRules& rules_;
  HashCache* cache_;
  ScanResult& res_;
  int64_t racy_limit_ = 0;
  std::vector<Node> nodes_;
  std::vector<HashJob> jobs_;
  std::vector<std::pair<int, int>> job_items_;  // job → (node, item)
  std::unique_ptr<char[]> dents_{new char[kDentsBytes]};
};

Result<void> Walker::Walk(int root_fd) {
  nodes_.push_back(Node{});
  int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return FailErrno("dup");
  return WalkDir(fd, 0, 0);
}

Result<const std::vector<CachedName>*> Walker::List(int fd, const std::string& rel, std::vector<CachedName>& fresh) {
  struct statx st {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO | STATX_MTIME | STATX_CTIME, &st) != 0) {
    return FailErrno("stat " + Shown(rel));
  }
  CachedDir rec{.ino = st.stx_ino, .mtime_ns = Ns(st.stx_mtime), .ctime_ns = Ns(st.stx_ctime)};
  if (cache_) {
    const CachedDir* old = cache_->UseDir(rel);
    if (old && !old->racy && old->ino == rec.ino && old->mtime_ns == rec.mtime_ns && old->ctime_ns == rec.ctime_ns) {
      return &old->names;
    }
  }
  for (;;) {
    long n = syscall(SYS_getdents64, fd, dents_.get(), kDentsBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrnoHint("cannot list " + Shown(rel), kReadableHint);
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(dents_.get() + off);
      off += d->d_reclen;
      std::string_view name(d->d_name);
      if (name == "." || name == "..") continue;
      CachedName cn{.name = std::string(name), .type = d->d_type};
      if (cn.type == DT_UNKNOWN) {
        struct statx t {};
        if (statx(fd, d->d_name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_TYPE, &t) != 0) {
          return FailErrno("stat " + Shown(Join(rel, name)));
        }
        cn.type = TypeOfMode(t.stx_mode);
      }
      cn.excluded = rules_.Excluded(Join(rel, name));
      fresh.push_back(std::move(cn));
    }
  }
  std::sort(fresh.begin(), fresh.end(), [](const CachedName& a, const CachedName& b) { return a.name < b.name; });
  if (!cache_) return &fresh;
  rec.racy = Racy(rec.mtime_ns, rec.ctime_ns);
  rec.names = std::move(fresh);
  cache_->PutDir(rel, std::move(rec));
  return &cache_->UseDir(rel)->names;
}

Result<void> Walker::WalkDir(int raw_fd, int node, int depth) {
  UniqueFd fd(raw_fd);
  std::string rel = nodes_[static_cast<size_t>(node)].rel;
  if (depth > kMaxDepth) return FailInvalid(Shown(rel) + " is nested more than 256 directories deep; flatten it");
  std::vector<CachedName> fresh;
  const std::vector<CachedName>* names = TRY(List(fd.get(), rel, fresh));
  nodes_[static_cast<size_t>(node)].items.reserve(names->size());
  std::string path;
  for (const CachedName& n : *names) {
    path.assign(rel).append(rel.empty() ? "" : "/").append(n.name);  // reuses one buffer
    if (n.excluded && !(n.type == DT_DIR && rules_.EnterExcluded(path))) continue;
    switch (n.type) {
      case DT_DIR: {
        int child_fd = openat(fd.get(), n.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child_fd < 0) {
          if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT) {
            return FailInvalid(Shown(path) + " changed during the scan; run the deploy again");
          }
          return FailErrnoHint("cannot open " + Shown(path), kReadableHint);
        }
        int child = static_cast<int>(nodes_.size());
        nodes_.push_back(Node{.rel = path, .excluded = n.excluded});
        nodes_[static_cast<size_t>(node)].items.push_back(
            Item{.name = n.name, .kind = EntryKind::kDir, .child = child});
        TRY(WalkDir(child_fd, child, depth + 1));
        break;
      }
      case DT_REG:
        TRY(AddFile(fd.get(), node, n, path));
        break;
      case DT_LNK:
        TRY(AddSymlink(fd.get(), node, n, path));
        break;
      default:
        res_.warnings.push_back("skipped \"" + path + "\": it is " + TypeName(n.type) +
                                " (a deploy carries files, directories and symlinks)");
    }
  }
  return {};
}

Result<void> Walker::AddFile(int fd, int node, const CachedName& n, const std::string& rel) {
  struct statx st {};
  unsigned mask = STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_MTIME | STATX_CTIME;
  if (statx(fd, n.name.c_str(), AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, mask, &st) != 0) {
    if (errno == ENOENT) return FailInvalid(Shown(rel) + " disappeared during the scan; run the deploy again");
    return FailErrno("stat " + Shown(rel));
  }
  if (!S_ISREG(st.stx_mode)) return FailInvalid(Shown(rel) + " changed during the scan; run the deploy again");
  FileKey key{.dev = makedev(st.stx_dev_major, st.stx_dev_minor),
              .ino = st.stx_ino,
              .size = static_cast<int64_t>(st.stx_size),
              .mtime_ns = Ns(st.stx_mtime),
              .ctime_ns = Ns(st.stx_ctime),
              .mode = st.stx_mode};
  Item item{.name = n.name, .kind = (st.stx_mode & 0111) ? EntryKind::kExec : EntryKind::kFile, .size = key.size};
  const CachedFile* hit = cache_ ? cache_->UseFile(rel) : nullptr;
  if (hit && !hit->racy && hit->key == key) {
    item.digest = image::Digest::FromHex(HexOf(hit->sha256));
    ++res_.cache_hits;
  } else {
    item.job = static_cast<int>(jobs_.size());
    jobs_.push_back(HashJob{.rel = rel, .key = key});
    job_items_.emplace_back(node, static_cast<int>(nodes_[static_cast<size_t>(node)].items.size()));
  }
  nodes_[static_cast<size_t>(node)].items.push_back(std::move(item));
  return {};
}

Result<void> Walker::AddSymlink(int fd, int node, const CachedName& n, const std::string& rel) {
  char buf[PATH_MAX + 1];
  ssize_t len = readlinkat(fd, n.name.c_str(), buf, sizeof buf);
  if (len < 0) {
    if (errno == EINVAL || errno == ENOENT) {
      return FailInvalid(Shown(rel) + " changed during the scan; run the deploy again");
    }
    return FailErrno("cannot read the symlink " + Shown(rel));
  }
  std::string target(buf, static_cast<size_t>(len));
  if (!target.empty() && target.front() == '/') {
    res_.warnings.push_back("symlink \"" + rel + "\" -> \"" + target +
                            "\" is absolute: it resolves inside the container, not in the deployed directory");
  } else if (LeavesTree(rel, target)) {
    res_.warnings.push_back("symlink \"" + rel + "\" -> \"" + target +
                            "\" leaves the deployed directory: it resolves inside the container");
  }
  Item item{.name = n.name, .kind = EntryKind::kSymlink, .size = len, .digest = image::Sha256Of(target)};
  auto [it, added] = res_.blobs.try_emplace(item.digest.hex());
  if (added) it->second = BlobSource{.path = "", .inline_ = std::move(target), .size = len};
  nodes_[static_cast<size_t>(node)].items.push_back(std::move(item));
  return {};
}

Result<void> Walker::Hash(int root_fd) {
  TRY(HashFiles(root_fd, root_abs_, jobs_, o_.threads));
  for (size_t i = 0; i < jobs_.size(); ++i) {
    HashJob& j = jobs_[i];
    auto [node, index] = job_items_[i];
    Item& item = nodes_[static_cast<size_t>(node)].items[static_cast<size_t>(index)];
    item.digest = std::move(j.digest);
    item.size = j.bytes;
    ++res_.hashed;
    res_.bytes_hashed += j.bytes;
    if (cache_) {
      bool racy = j.changed || Racy(j.key.mtime_ns, j.key.ctime_ns);
      cache_->PutFile(j.rel, CachedFile{.key = j.key, .sha256 = RawOf(item.digest.hex()), .racy = racy});
    }
  }
  return {};
}

Result<void> Walker::BuildTrees() {
  std::unordered_set<std::string> seen_trees;
  res_.blobs.reserve(res_.blobs.size() + jobs_.size() + static_cast<size_t>(res_.cache_hits));
  std::string path;
  // Children have larger indices than their parents (pre-order walk).
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node& node = nodes_[i];
    Tree t;
    t.entries.reserve(node.items.size());
    for (Item& item : node.items) {
      if (item.kind == EntryKind::kDir) {
        const Node& child = nodes_[static_cast<size_t>(item.child)];
        if (child.dropped) continue;
        item.digest = child.digest;
      } else if (item.kind == EntryKind::kSymlink) {
        ++res_.symlinks;
      } else {
        ++res_.files;
        res_.total_bytes += item.size;
        auto [it, added] = res_.blobs.try_emplace(item.digest.hex());
        if (added) {
          path.assign(root_abs_).append("/").append(node.rel).append(node.rel.empty() ? "" : "/").append(item.name);
          it->second = BlobSource{.path = path, .inline_ = "", .size = item.size};
        }
      }
      t.entries.push_back(TreeEntry{
          .kind = item.kind, .digest = std::move(item.digest), .size = item.size, .name = std::move(item.name)});
    }
    node.items.clear();
    if (node.excluded && t.entries.empty()) {
      node.dropped = true;
      continue;
    }
    auto bytes = EncodeTree(t);
    if (!bytes) return Fail(std::move(bytes.error()).Wrap("directory " + Shown(node.rel)));
    node.digest = TreeDigest(*bytes);
    ++res_.dirs;
    if (seen_trees.insert(node.digest.hex()).second) {
      res_.trees.push_back(ScannedTree{.digest = node.digest, .bytes = std::move(*bytes), .path = node.rel});
    }
  }
  res_.root = res_.trees.back().digest;
  return {};
}

std::string CacheBase() {
  const char* xdg = getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/moor/deploy";
  const char* home = getenv("HOME");
  if (home && home[0] == '/') return std::string(home) + "/.cache/moor/deploy";
  if (geteuid() == 0) return "/var/cache/moor/deploy";
  return "";
}

Result<std::string> RealDir(const std::string& dir) {
  char* real = realpath(dir.c_str(), nullptr);
  if (!real) return FailErrnoHint("cannot open the code directory \"" + dir + "\"", "check the path");
  std::string out(real);
  free(real);
  return out;
}

Result<std::string> CachePathFor(const std::string& real, const IgnoreRules& rules) {
  std::string base = CacheBase();
  if (base.empty()) return FailInvalid("no place for the deploy hash cache: set HOME or XDG_CACHE_HOME");
  image::Sha256 h;
  h.Update(real);
  h.Update(std::string_view("\0", 1));
  h.Update(rules.digest.data(), rules.digest.size());
  return base + "/" + h.Finish().hex() + ".idx";
}

Result<UniqueFd> OpenDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrnoHint("cannot open the code directory \"" + dir + "\"", "check the path");
  return fd;
}

}  // namespace

Result<std::string> DefaultCachePath(const std::string& dir) {
  std::string real = TRY(RealDir(dir));
  UniqueFd fd = TRY(OpenDir(real));
  IgnoreRules rules = TRY(LoadIgnoreRules(fd.get(), real));
  return CachePathFor(real, rules);
}

Result<ScanResult> Scan(const ScanOptions& o) {
  std::string real = TRY(RealDir(o.dir.empty() ? "." : o.dir));
  UniqueFd root = TRY(OpenDir(real));
  IgnoreRules rules = TRY(LoadIgnoreRules(root.get(), real));
  ScanResult res;
  std::string cache_path = o.cache_path;
  if (cache_path.empty()) cache_path = TRY(CachePathFor(real, rules));
  std::optional<HashCache> cache;
  if (cache_path != "-") {
    bool damaged = false;
    cache = HashCache::Load(cache_path, rules.digest, &damaged);
    if (damaged) res.warnings.push_back("hash cache \"" + cache_path + "\" was damaged: every file is hashed again");
  }
  int64_t started = NowNs();
  Walker w(o, real, rules, cache ? &*cache : nullptr, res);
  TRY(w.Walk(root.get()));
  TRY(w.Hash(root.get()));
  TRY(w.BuildTrees());
  if (cache) {
    cache->DropUnseen();
    if (cache->dirty()) {
      if (auto saved = cache->Save(cache_path, started); !saved) {
        res.warnings.push_back("hash cache not saved (" + saved.error().message() +
                               "): the next scan hashes every file again");
      }
    }
  }
  return res;
}

}  // namespace moor::deploy
