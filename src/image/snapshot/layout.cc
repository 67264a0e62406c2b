#include "image/snapshot/layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/file.h"

namespace moor::image::snapshot_internal {

std::string SnapshotDir(const std::string& root, const Digest& chain_id) {
  return root + "/sha256/" + chain_id.hex();
}

std::string LockPath(const std::string& root, const Digest& chain_id) {
  return root + "/locks/" + chain_id.hex();
}

Result<UniqueFd> LockFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno("open lock " + path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return FailErrno("lock " + path);
  }
  return fd;
}

Result<UniqueFd> TryLockDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return FailErrno("open " + dir);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return UniqueFd();
    return FailErrno("lock " + dir);
  }
  return fd;
}

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<void> WriteMeta(const std::string& dir, const Meta& m) {
  nlohmann::json j = {
      {"diff_id", m.diff_id.str()}, {"blob", m.blob.str()}, {"size", m.size}, {"unpacked_at", m.unpacked_at}};
  TRY_CTX(WriteFileAtomic(dir + "/meta.json", j.dump() + "\n"), "write snapshot metadata");
  return {};
}

Result<Meta> ReadMeta(const std::string& dir) {
  std::string path = dir + "/meta.json";
  std::string text = TRY(ReadFile(path));
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return FailInvalid(path + ": not a JSON object");
  Meta m;
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  m.diff_id = TRY_CTX(Digest::Parse(str("diff_id")), path + ": diff_id");
  if (std::string b = str("blob"); !b.empty()) m.blob = TRY_CTX(Digest::Parse(b), path + ": blob");
  if (auto it = j.find("size"); it != j.end() && it->is_number_unsigned()) m.size = it->get<uint64_t>();
  m.unpacked_at = str("unpacked_at");
  return m;
}

namespace {

template <class Fn>
Result<void> ForEachEntry(int dirfd, const std::string& what, Fn&& fn) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return FailErrno("dup " + what);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return FailErrno("opendir " + what);
  }
  Result<void> r;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    r = fn(e->d_name);
    if (!r) break;
    errno = 0;
  }
  if (r && errno != 0) r = FailErrno("readdir " + what);
  ::closedir(d);
  return r;
}

Result<uint64_t> BytesAt(int dirfd, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return FailErrno(std::string("stat ") + name);
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (!S_ISDIR(st.st_mode) || st.st_dev != dev) return 0;
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno(std::string("open ") + name);
  uint64_t total = 0;
  TRY(ForEachEntry(fd.get(), name, [&](const char* child) -> Result<void> {
    total += TRY(BytesAt(fd.get(), child, dev));
    return {};
  }));
  return total;
}

}  // namespace

Result<uint64_t> TreeBytes(const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return FailErrno("stat " + dir);
  return TRY_CTX(BytesAt(AT_FDCWD, dir.c_str(), st.st_dev), "measure " + dir);
}

Result<void> RemoveTree(const std::string& path) {
  TRY_CTX(RemoveAll(path), "remove " + path);
  return {};
}

}  // namespace moor::image::snapshot_internal
