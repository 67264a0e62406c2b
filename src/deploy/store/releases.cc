// ReleaseStore: the `current` symlink and the list, removal and cleanup of
// materialised releases.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "deploy/store/fs_ops.h"
#include "deploy/store/store_impl.h"

namespace moor::deploy {

using store_detail::ListNames;

namespace {

constexpr char kCurrent[] = "current";
constexpr char kCurrentTmp[] = ".current.tmp";

// "0", "17": a release number as a directory name (no sign, no leading zero).
std::optional<int64_t> ParseRelease(std::string_view s) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}


}  // namespace

Result<void> ReleaseStore::SetCurrent(const std::string& app, const std::string& svc, int64_t release) {
  const std::string name = std::to_string(release);
  const std::string dir = ServiceDir(app, svc);
  UniqueFd sfd = TRY_CTX(impl_->OpenServiceDir(app, svc), "switch " + app + "/" + svc);
  struct stat st;
  if (release < 0 || ::fstatat(sfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
    return FailInvalid("switch " + app + "/" + svc + " to release " + name +
                       ": it is not materialised; materialise it first");
  }
  if (::unlinkat(sfd.get(), kCurrentTmp, 0) != 0 && errno != ENOENT) {
    return FailErrno("remove " + dir + "/" + kCurrentTmp);
  }
  // Relative: resolves the same on the host and in containers.
  if (::symlinkat(name.c_str(), sfd.get(), kCurrentTmp) != 0) return FailErrno("symlink " + dir + "/" + kCurrentTmp);
  if (::renameat(sfd.get(), kCurrentTmp, sfd.get(), kCurrent) != 0) {
    int err = errno;
    ::unlinkat(sfd.get(), kCurrentTmp, 0);
    return Fail(Error::FromErrno(err, "rename " + dir + "/" + kCurrentTmp + " to " + kCurrent));
  }
  if (::fsync(sfd.get()) != 0) return FailErrno("fsync " + dir);
  return {};
}

std::optional<int64_t> ReleaseStore::Current(const std::string& app, const std::string& svc) const {
  auto sfd = impl_->OpenServiceDir(app, svc);
  if (!sfd) return std::nullopt;
  char buf[64];
  ssize_t n = ::readlinkat(sfd->get(), kCurrent, buf, sizeof buf);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return std::nullopt;
  return ParseRelease(std::string_view(buf, static_cast<size_t>(n)));
}

std::vector<int64_t> ReleaseStore::ListMaterialised(const std::string& app, const std::string& svc) const {
  std::vector<int64_t> out;
  auto sfd = impl_->OpenServiceDir(app, svc);
  if (!sfd) return out;
  auto names = ListNames(sfd->get(), ServiceDir(app, svc));
  if (!names) return out;
  for (const auto& name : *names) {
    auto n = ParseRelease(name);
    struct stat st;
    if (n && ::fstatat(sfd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      out.push_back(*n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> ReleaseStore::RemoveRelease(const std::string& app, const std::string& svc, int64_t release) {
  const std::string name = std::to_string(release);
  const std::string ctx = "remove release " + name + " of " + app + "/" + svc;
  if (release < 0) return FailInvalid(ctx + ": bad release number");
  auto sfd = impl_->OpenServiceDir(app, svc);
  if (!sfd) {
    if (sfd.error().errnum() == ENOENT) return {};
    return Fail(std::move(sfd.error()).Wrap(ctx));
  }
  if (Current(app, svc) == release) return FailInvalid(ctx + ": it is current; switch to another release first");
  // Out of sight first: a crash mid-removal leaves a .tmp-N for CleanTemp.
  const std::string tmp = ".tmp-" + name;
  TRY_CTX(store_detail::RemoveTreeAt(sfd->get(), tmp), ctx);
  if (::renameat(sfd->get(), name.c_str(), sfd->get(), tmp.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return FailErrno(ctx + ": rename to " + tmp);
  }
  TRY_CTX(store_detail::RemoveTreeAt(sfd->get(), tmp), ctx);
  return {};
}

Result<void> ReleaseStore::CleanTemp(const std::string& app, const std::string& svc) {
  const std::string ctx = "clean up " + ServiceDir(app, svc);
  auto sfd = impl_->OpenServiceDir(app, svc);
  if (!sfd) {
    if (sfd.error().errnum() == ENOENT) return {};
    return Fail(std::move(sfd.error()).Wrap(ctx));
  }
  auto names = TRY_CTX(ListNames(sfd->get(), ServiceDir(app, svc)), ctx);
  for (const auto& name : names) {
    if (name.starts_with(".tmp-") || name == kCurrentTmp) TRY_CTX(store_detail::RemoveTreeAt(sfd->get(), name), ctx);
  }
  return {};
}

}  // namespace moor::deploy
