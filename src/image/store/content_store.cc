// ContentStore: committed blobs (read, verify, list, delete) and the writes
// whose digest is computed while copying. Ingests live in ingest.cc.
#include "image/store/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "common/file.h"
#include "image/store/blob_files.h"

namespace moor::image {
namespace {

using store_detail::CommitBlobFile;
using store_detail::DigestMismatch;
using store_detail::WriteFully;

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Error NotPresent(const Digest& d) {
  return Error(ENOENT, "blob " + d.str() + " is not in the content store");
}

}  // namespace

Result<ContentStore> ContentStore::Open(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  for (const char* sub : {"/blobs/sha256", "/ingest", "/tmp"}) {
    TRY_CTX(MkdirAll(root + sub, 0700), "content store " + root);
  }
  return ContentStore(std::move(root));
}

std::string ContentStore::BlobPath(const Digest& d) const {
  return root_ + "/blobs/sha256/" + d.hex();
}

bool ContentStore::Has(const Digest& d) const {
  if (d.empty()) return false;
  struct stat st;
  return ::lstat(BlobPath(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> ContentStore::Size(const Digest& d) const {
  struct stat st;
  if (d.empty() || ::lstat(BlobPath(d).c_str(), &st) != 0) {
    if (d.empty() || errno == ENOENT) return Fail(NotPresent(d));
    return FailErrno("stat " + BlobPath(d));
  }
  return static_cast<int64_t>(st.st_size);
}

Result<UniqueFd> ContentStore::Open(const Digest& d) const {
  if (d.empty()) return Fail(NotPresent(d));
  UniqueFd fd(::open(BlobPath(d).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Fail(NotPresent(d));
    return FailErrno("open " + BlobPath(d));
  }
  return fd;
}

Result<std::string> ContentStore::ReadBlob(const Digest& d, int64_t max_bytes) const {
  UniqueFd fd = TRY(Open(d));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno("stat " + BlobPath(d));
  if (st.st_size > max_bytes) {
    return FailInvalid("blob " + d.str() + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                       std::to_string(max_bytes) + " bytes allowed for a manifest or config");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read " + BlobPath(d));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  Digest actual = Sha256Of(out);
  if (actual != d) {
    // Same policy as Verify: a corrupt blob is dropped so the next pull refetches it.
    ::unlink(BlobPath(d).c_str());
    return FailInvalid("blob " + d.str() + " is corrupt on disk (content has digest " + actual.str() +
                       "); it was removed, pull the image again");
  }
  return out;
}

Result<void> ContentStore::Verify(const Digest& d, std::string_view hint) const {
  UniqueFd fd = TRY(Open(d));
  Digest actual = TRY_CTX(Sha256OfFd(fd.get()), "verify " + BlobPath(d));
  if (actual != d) {
    if (::unlink(BlobPath(d).c_str()) != 0 && errno != ENOENT) return FailErrno("remove " + BlobPath(d));
    return FailInvalid("blob " + d.str() + " is corrupt on disk (content has digest " + actual.str() +
                       "); it was removed, " + std::string(hint));
  }
  return {};
}

Result<Digest> ContentStore::WriteBlob(std::string_view data, std::optional<Digest> expected) {
  Digest actual = Sha256Of(data);
  if (expected && *expected != actual) return Fail(DigestMismatch(expected->str(), actual.str()));
  // Through an ingest so that concurrent writers of the same blob serialise on its lock.
  auto ingest = TRY(BeginIngest(actual, static_cast<int64_t>(data.size())));
  if (ingest->AlreadyPresent()) return actual;
  TRY(ingest->Reset());
  TRY(ingest->Write(data.data(), data.size()));
  TRY(ingest->Commit());
  return actual;
}

Result<bool> ContentStore::WriteBlobUnsynced(std::string_view data, const Digest& expected) {
  if (expected.empty()) return FailInvalid("write blob: no digest given");
  Digest actual = Sha256Of(data);
  if (actual != expected) return Fail(DigestMismatch(expected.str(), actual.str()));
  if (Has(expected)) return false;
  const std::string dir = root_ + "/blobs/sha256";
  const std::string path = BlobPath(expected);
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) return WriteBlobViaTemp(data, path);
    return FailErrno("create an unnamed file in " + dir);
  }
  TRY(WriteFully(fd.get(), data.data(), data.size(), path));
  if (::fchmod(fd.get(), 0444) != 0) return FailErrno("chmod " + path);
  if (::linkat(fd.get(), "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0) return true;
  if (errno == EEXIST) return false;  // a concurrent writer named the same bytes first
  if (errno != ENOENT && errno != EPERM) return FailErrno("link " + path);
  // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it); the /proc name of the fd does not.
  const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return true;
  if (errno == EEXIST) return false;
  return FailErrno("link " + path);
}

Result<bool> ContentStore::WriteBlobViaTemp(std::string_view data, const std::string& path) {
  std::string tmp = root_ + "/tmp/write-XXXXXX";
  UniqueFd out(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!out) return FailErrno("create temporary file in " + root_ + "/tmp");
  Result<bool> r = [&]() -> Result<bool> {
    TRY(WriteFully(out.get(), data.data(), data.size(), tmp));
    if (::fchmod(out.get(), 0444) != 0) return FailErrno("chmod " + tmp);
    // link, not rename: EEXIST tells that the blob was there already.
    if (::link(tmp.c_str(), path.c_str()) == 0) return true;
    if (errno == EEXIST) return false;
    return FailErrno("link " + tmp + " to " + path);
  }();
  ::unlink(tmp.c_str());
  return r;
}

Result<void> ContentStore::SyncBlobs(std::span<const Digest> digests) {
  if (digests.empty()) return {};
  const std::string dir = root_ + "/blobs/sha256";
  if (digests.size() > 64) {
    // One syncfs costs about what a few fsyncs do, and covers every blob at once.
    for (const auto& d : digests) {
      if (!Has(d)) return Fail(NotPresent(d));
    }
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return FailErrno("open " + dir);
    if (::syncfs(fd.get()) != 0) return FailErrno("syncfs " + dir);
    return {};
  }
  for (const auto& d : digests) {
    UniqueFd fd = TRY(Open(d));
    if (::fsync(fd.get()) != 0) return FailErrno("fsync " + BlobPath(d));
  }
  return store_detail::FsyncDir(dir);
}

Result<Digest> ContentStore::WriteBlobFromFd(int fd, std::optional<Digest> expected) {
  // The digest is unknown until the end, so the bytes go to tmp/ first.
  std::string tmp = root_ + "/tmp/write-XXXXXX";
  UniqueFd out(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!out) return FailErrno("create temporary file in " + root_ + "/tmp");
  auto cleanup = [&tmp] { ::unlink(tmp.c_str()); };
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Error::FromErrno("read blob source");
      cleanup();
      return Fail(std::move(e));
    }
    if (n == 0) break;
    hash.Update(buf.data(), static_cast<size_t>(n));
    if (auto w = WriteFully(out.get(), buf.data(), static_cast<size_t>(n), tmp); !w) {
      cleanup();
      return Fail(std::move(w.error()));
    }
  }
  Digest actual = hash.Finish();
  if (expected && *expected != actual) {
    cleanup();
    return Fail(DigestMismatch(expected->str(), actual.str()));
  }
  if (Has(actual)) {
    cleanup();
    return actual;
  }
  // Renaming over a blob another writer committed meanwhile is harmless: same bytes.
  if (auto c = CommitBlobFile(out.get(), tmp, BlobPath(actual)); !c) {
    cleanup();
    return Fail(std::move(c.error()));
  }
  return actual;
}

std::vector<Digest> ContentStore::ListBlobs() const {
  std::vector<Digest> out;
  DIR* dir = ::opendir((root_ + "/blobs/sha256").c_str());
  if (!dir) return out;
  while (struct dirent* e = ::readdir(dir)) {
    if (IsHex64(e->d_name)) out.push_back(Digest::FromHex(e->d_name));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> ContentStore::Delete(const Digest& d) {
  if (d.empty()) return {};
  if (::unlink(BlobPath(d).c_str()) != 0 && errno != ENOENT) return FailErrno("remove " + BlobPath(d));
  return {};
}

Result<void> ContentStore::CleanIngests() {
  std::string ingest_root = root_ + "/ingest";
  DIR* dir = ::opendir(ingest_root.c_str());
  if (!dir) return FailErrno("open " + ingest_root);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  for (const auto& name : names) {
    std::string path = ingest_root + "/" + name;
    std::string lock_path = path + "/lock";
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (!lock) {
      // No lock file: an ingest being created right now (its creator retries
      // when the directory vanishes under it) or an empty leftover. Only an
      // empty directory is removed; anything else is not ours to judge.
      if (errno == ENOENT) ::rmdir(path.c_str());
      continue;
    }
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;  // in use: leave it alone
    // Remove while holding the lock; a waiter notices the unlinked lock file and starts over.
    ::unlink((path + "/data").c_str());
    ::unlink(lock_path.c_str());
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY)
      return FailErrno("remove " + path);
  }
  return {};
}

}  // namespace moor::image
