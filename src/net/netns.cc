#include "net/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "common/file.h"
#include "common/strings.h"

namespace moor::net {

namespace {

// Mount points in mountinfo escape space, tab, newline and backslash as \ooo.
std::string UnescapeMountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool octal = true;
      for (size_t j = 1; j <= 3; ++j) {
        char c = s[i + j];
        if (c < '0' || c > '7') octal = false;
        v = v * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

Result<bool> IsMountPoint(const std::string& path) {
  std::string info = TRY_CTX(ReadFile("/proc/self/mountinfo"), "read /proc/self/mountinfo");
  for (const std::string& line : Split(info, '\n')) {
    // Fields: id parent major:minor root mount-point ...
    std::vector<std::string> fields = Split(line, ' ');
    if (fields.size() > 4 && UnescapeMountinfo(fields[4]) == path) return true;
  }
  return false;
}

// The pin directory is made a private mount (a bind mount of itself, as
// `ip netns` does): mount namespaces created later for containers then get
// copies of the pins that do not receive or send propagation, so unmounting
// a pin on the host is never undone or held up by a container's copy.
Result<void> EnsurePrivateDir(const std::string& dir) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  TRY_CTX(MkdirAll(dir, 0700), "create " + dir);
  char real[PATH_MAX];
  if (!realpath(dir.c_str(), real)) return FailErrno("resolve " + dir);
  if (!TRY(IsMountPoint(real))) {
    if (mount(real, real, nullptr, MS_BIND, nullptr) != 0) return FailErrno("bind mount " + dir);
  }
  if (mount(nullptr, real, nullptr, MS_PRIVATE, nullptr) != 0) {
    return FailErrno("make " + dir + " a private mount");
  }
  return {};
}

// Runs fn on a new thread and returns its result; the thread may change its
// own namespaces without affecting the caller.
template <class T>
Result<T> OnFreshThread(const std::function<Result<T>()>& fn) {
  std::optional<Result<T>> result;
  try {
    std::thread t([&] { result.emplace(fn()); });
    t.join();
  } catch (const std::exception& e) {
    return FailInvalid("start thread: " + std::string(e.what()));
  }
  return std::move(*result);
}

}  // namespace

Result<std::string> CreatePinnedNetns(const std::string& dir, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return FailInvalid("invalid network namespace name \"" + name + "\"");
  }
  TRY_CTX(EnsurePrivateDir(dir), "create network namespace");
  std::string pin = dir + "/" + name;
  int fd = open(pin.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return FailErrno("create network namespace pin " + pin);
  close(fd);

  // unshare() moves only the calling thread into the new namespace; doing it
  // on a throwaway thread leaves the caller where it was. The bind mount of
  // that thread's namespace file keeps the namespace alive after it exits.
  Result<void> made = OnFreshThread<void>([&]() -> Result<void> {
    if (unshare(CLONE_NEWNET) != 0) return FailErrno("unshare(CLONE_NEWNET)");
    std::string self = "/proc/self/task/" + std::to_string(gettid()) + "/ns/net";
    if (mount(self.c_str(), pin.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return FailErrno("bind mount the namespace on " + pin);
    }
    return {};
  });
  if (!made) {
    unlink(pin.c_str());
    return Fail(std::move(made.error()).Wrap("create network namespace"));
  }
  return pin;
}

Result<void> RemovePinnedNetns(const std::string& path) {
  // EINVAL: not a mount point (a half-created pin); ENOENT: already gone.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return FailErrno("unmount network namespace " + path);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return FailErrno("remove network namespace pin " + path);
  }
  return {};
}

Result<UniqueFd> OpenNetns(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FailErrno("open network namespace " + path);
  return UniqueFd(fd);
}

Result<void> InNetns(int netns_fd, const std::function<Result<void>()>& fn) {
  return OnFreshThread<void>([&]() -> Result<void> {
    if (setns(netns_fd, CLONE_NEWNET) != 0) return FailErrno("enter network namespace");
    return fn();
  });
}

}  // namespace moor::net
