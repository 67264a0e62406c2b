// ReleaseStore::CollectGarbage: mark from the kept root trees, sweep blobs,
// exec copies, old ingests and temp files (under image::GcLock, exclusive).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <set>

#include "common/log.h"
#include "deploy/store/fs_ops.h"
#include "deploy/store/store_impl.h"
#include "deploy/tree/tree.h"
#include "image/gc.h"

namespace moor::deploy {

namespace {

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

int64_t NowNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::vector<std::string> Names(const std::string& dir_path) {
  std::vector<std::string> out;
  DIR* dir = ::opendir(dir_path.c_str());
  if (!dir) return out;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(dir);
  return out;
}

// Everything the kept roots reach: trees and the blobs they name.
Result<std::set<image::Digest>> Mark(int blobs_fd, std::span<const image::Digest> roots) {
  std::set<image::Digest> marked;
  std::set<image::Digest> walked;  // trees already read
  std::vector<image::Digest> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    image::Digest d = std::move(todo.back());
    todo.pop_back();
    if (d.empty() || !walked.insert(d).second) continue;
    marked.insert(d);
    auto bytes = store_detail::ReadTreeAt(blobs_fd, d);
    if (!bytes) {
      if (bytes.error().errnum() == ENOENT) continue;  // an absent kept tree marks nothing
      return Fail(Error(bytes.error().errnum(), bytes.error().message() + "; nothing was removed"));
    }
    auto t = ParseTree(*bytes);
    if (!t) return FailInvalid("tree " + d.str() + ": " + t.error().message() + "; nothing was removed");
    for (auto& e : t->entries) {
      if (e.kind == EntryKind::kDir) {
        todo.push_back(e.digest);
      } else {
        marked.insert(e.digest);
      }
    }
  }
  return marked;
}

// Removes an ingest directory when its data is older than `cutoff_ns` and no
// writer holds its lock. True when removed.
bool RemoveOldIngest(const std::string& dir, int64_t cutoff_ns) {
  struct stat st;
  if (::stat((dir + "/data").c_str(), &st) != 0 && ::stat(dir.c_str(), &st) != 0) return false;
  if (MtimeNs(st) > cutoff_ns) return false;
  const std::string lock_path = dir + "/lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // a writer has it
  // Removed while holding the lock; a waiter sees its lock file unlinked and starts over.
  ::unlink((dir + "/data").c_str());
  ::unlink(lock_path.c_str());
  return ::rmdir(dir.c_str()) == 0;
}

}  // namespace

Result<GcStats> ReleaseStore::CollectGarbage(std::span<const image::Digest> kept_roots, int64_t ingest_max_age_ns) {
  image::ContentStore& content = impl_->content;
  image::GcLock lock = TRY_CTX(image::GcLock::Acquire(content.root(), image::GcLock::Mode::kExclusive), "deploy gc");
  std::set<image::Digest> marked = TRY_CTX(Mark(impl_->blobs_fd.get(), kept_roots), "deploy gc");
  GcStats stats;
  const int64_t cutoff = NowNs() - std::max<int64_t>(ingest_max_age_ns, 0);

  for (const auto& d : content.ListBlobs()) {
    if (marked.count(d)) continue;
    int64_t size = store_detail::BlobSizeAt(impl_->blobs_fd.get(), d);
    TRY_CTX(content.Delete(d), "deploy gc");
    ++stats.blobs_removed;
    stats.bytes_freed += std::max<int64_t>(size, 0);
  }

  const int exec_fd = impl_->exec_fd.get();
  for (const auto& name : Names(content.root() + "/exec")) {
    struct stat st;
    if (::fstatat(exec_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    bool stale = IsHex64(name) ? !marked.count(image::Digest::FromHex(name)) : MtimeNs(st) <= cutoff;
    if (!stale) continue;
    if (::unlinkat(exec_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return FailErrno("deploy gc: remove " + content.root() + "/exec/" + name);
    }
    if (IsHex64(name)) {
      ++stats.exec_removed;
      stats.bytes_freed += static_cast<int64_t>(st.st_size);
    }
  }

  const std::string ingest = content.root() + "/ingest";
  for (const auto& name : Names(ingest)) {
    if (RemoveOldIngest(ingest + "/" + name, cutoff)) ++stats.ingests_removed;
  }
  // Leftovers of WriteBlobUnsynced's fallback (no O_TMPFILE) killed mid-write.
  const std::string tmp = content.root() + "/tmp";
  for (const auto& name : Names(tmp)) {
    struct stat st;
    const std::string path = tmp + "/" + name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && MtimeNs(st) <= cutoff) ::unlink(path.c_str());
  }
  return stats;
}

}  // namespace moor::deploy
