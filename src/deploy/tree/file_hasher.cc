#include "deploy/tree/file_hasher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "common/fd.h"
#include "deploy/tree/scan_error.h"

namespace moor::deploy {

namespace {

constexpr size_t kBufferBytes = 256 << 10;

Result<void> HashOne(int root_fd, const std::string& dir, HashJob& job, std::vector<char>& buf) {
  std::string shown = "\"" + dir + "/" + job.rel + "\"";
  UniqueFd fd(openat(root_fd, job.rel.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) return FailErrnoHint("cannot read " + shown, kReadableHint);
  struct stat before {};
  if (fstat(fd.get(), &before) != 0) return FailErrno("stat " + shown);
  if (!S_ISREG(before.st_mode)) {
    return FailInvalid(shown + " stopped being a regular file during the scan; run the deploy again");
  }
  image::Sha256 h;
  int64_t total = 0;
  for (;;) {
    ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrnoHint("cannot read " + shown, kReadableHint);
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
    total += n;
  }
  struct stat after {};
  if (fstat(fd.get(), &after) != 0) return FailErrno("stat " + shown);
  job.digest = h.Finish();
  job.bytes = total;
  auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; };
  job.changed = static_cast<uint64_t>(after.st_ino) != job.key.ino || total != job.key.size ||
                after.st_size != job.key.size || ns(after.st_mtim) != job.key.mtime_ns ||
                ns(after.st_ctim) != job.key.ctime_ns;
  return {};
}

}  // namespace

Result<void> HashFiles(int root_fd, const std::string& dir, std::vector<HashJob>& jobs, int threads) {
  if (jobs.empty()) return {};
  size_t n_threads = std::clamp<size_t>(threads > 0 ? static_cast<size_t>(threads) : 1, 1, jobs.size());
  std::vector<std::optional<Error>> errors(jobs.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    std::vector<char> buf(kBufferBytes);
    for (size_t i; !failed.load(std::memory_order_relaxed) && (i = next.fetch_add(1)) < jobs.size();) {
      if (auto r = HashOne(root_fd, dir, jobs[i], buf); !r) {
        errors[i] = std::move(r.error());
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n_threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) return Fail(std::move(*e));
  }
  return {};
}

}  // namespace moor::deploy
