// COPY and ADD: writes the planned entries into the mounted step rootfs, every
// destination resolved inside it (RESOLVE_IN_ROOT), so symlinks in the lower
// layers (/bin → usr/bin, or a hostile /app → /etc) never lead outside.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>

#include "build/in_root.h"
#include "build/stage.h"
#include "common/strings.h"
#include "image/archive/extract.h"
#include "image/run/user_lookup.h"

namespace moor::build {
namespace {

std::string ParentOf(const std::string& abs) {
  size_t s = abs.rfind('/');
  return s == 0 || s == std::string::npos ? "/" : abs.substr(0, s);
}
std::string BaseOf(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}
std::string Rel(const std::string& abs) {
  return abs == "/" ? "" : abs.substr(1);
}

// A tar archive (plain or gzip): "ustar" at offset 257 of the (inflated) data.
bool IsTarArchive(int fd) {
  unsigned char head[512];
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  if (n < 2) return false;
  unsigned char plain[512];
  size_t have = static_cast<size_t>(n);
  const unsigned char* data = head;
  if (head[0] == 0x1f && head[1] == 0x8b) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return false;
    unsigned char in[4096];
    ssize_t m = ::pread(fd, in, sizeof in, 0);
    z.next_in = in;
    z.avail_in = m > 0 ? static_cast<uInt>(m) : 0;
    z.next_out = plain;
    z.avail_out = sizeof plain;
    inflate(&z, Z_SYNC_FLUSH);
    have = sizeof plain - z.avail_out;
    inflateEnd(&z);
    data = plain;
  }
  return have >= 262 && std::memcmp(data + 257, "ustar", 5) == 0;
}

Result<void> CopyData(int src, int dst, const std::string& what) {
  for (;;) {
    ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, 1 << 30, 0);
    if (n == 0) return {};
    if (n > 0) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return FailErrno("copy " + what);
    break;  // fall back to read/write
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(src, buf, sizeof buf);
    if (n < 0) return FailErrno("read " + what);
    if (n == 0) return {};
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(dst, buf + off, static_cast<size_t>(n - off));
      if (w < 0) return FailErrno("write " + what);
      off += w;
    }
  }
}

// Removes a non-directory at parent/name (files replace files and symlinks).
Result<void> ClearSlot(int pfd, const std::string& name, const std::string& shown, bool want_dir) {
  struct stat st {};
  if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return FailErrno("stat " + shown);
  }
  if (S_ISDIR(st.st_mode)) {
    if (want_dir) return {};
    return FailInvalid("cannot replace directory " + shown + " with a file");
  }
  if (::unlinkat(pfd, name.c_str(), 0) != 0) return FailErrno("remove " + shown);
  return {};
}

Result<std::pair<uint32_t, uint32_t>> ResolveChown(const std::string& rootfs, const std::string& spec) {
  auto user = TRY_CTX(image::ResolveUser(rootfs, spec), "--chown=" + spec);
  // Docker: a user without a group gets the same numeric gid as the uid.
  if (spec.find(':') == std::string::npos) return std::pair{user.uid, user.uid};
  return std::pair{user.uid, user.gid};
}

}  // namespace

Result<void> RefuseUrls(const CopyRequest& req) {
  for (const auto& s : req.sources) {
    if (StartsWith(s, "http://") || StartsWith(s, "https://") || StartsWith(s, "git@")) {
      if (req.keyword == "ADD")
        return FailInvalid("ADD from a URL is not supported (no network at build time): " + s +
                           "; download it with RUN curl/wget, or put the file in the build context");
      return FailInvalid("COPY cannot take a URL: " + s);
    }
  }
  return {};
}

Result<CopyPlan> PlanCopyRequest(const BuildContext& ctx, const CopyRequest& req) {
  TRY(RefuseUrls(req));
  return ctx.PlanCopy(req.sources, req.dest, req.keyword);
}

Result<void> ExecuteCopy(const BuildContext& ctx, const CopyPlan& plan, const CopyRequest& req,
                         const StageState& st, const std::string& rootfs) {
  int rfd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return FailErrno(rootfs);
  UniqueFd root(rfd);
  std::pair<uint32_t, uint32_t> owner{0, 0};
  if (req.chown) owner = TRY(ResolveChown(rootfs, *req.chown));

  std::string dest = ResolveWorkdir(st.config.config.working_dir, req.dest);
  bool into_dir = plan.dest_is_dir;
  if (!into_dir) {
    // An existing directory at the destination receives a single file.
    auto fd = OpenInRoot(root.get(), Rel(dest), O_PATH | O_DIRECTORY);
    into_dir = fd.has_value();
  }
  bool dir_source = !plan.entries.empty() && plan.entries[0].kind == EntryKind::kDir;
  if (into_dir || dir_source) TRY(MkdirAllInRoot(root.get(), dest, owner));

  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const CopyEntry& e = plan.entries[i];
    bool top_file = std::find(plan.top_files.begin(), plan.top_files.end(), i) != plan.top_files.end();
    std::string target;
    if (e.dest.empty()) {
      target = (top_file && into_dir) ? CleanPath(dest + "/" + BaseOf(e.src)) : dest;
    } else {
      target = CleanPath(dest + "/" + e.dest);
    }
    uint32_t mode = req.chmod ? *req.chmod : e.mode;

    if (top_file && req.keyword == "ADD") {
      auto src = TRY(ctx.OpenBeneath(e.src, O_RDONLY));
      if (IsTarArchive(src.get())) {
        // ADD of a local archive: unpacked into the destination directory.
        TRY(MkdirAllInRoot(root.get(), dest, owner));
        UniqueFd dfd = TRY(OpenInRoot(root.get(), Rel(dest), O_RDONLY | O_DIRECTORY));
        image::ExtractOptions xo;
        xo.whiteouts = image::WhiteoutMode::kFlatten;
        if (req.chown) xo.force_owner = owner;
        TRY_CTX(image::ExtractLayer(src.get(), dfd.get(), xo), "ADD " + e.src);
        continue;
      }
    }

    if (target == "/") {
      if (e.kind != EntryKind::kDir) return FailInvalid("cannot copy a file onto /");
      continue;  // the root stays as it is
    }
    std::string parent = ParentOf(target), name = BaseOf(target);
    TRY(MkdirAllInRoot(root.get(), parent, owner));
    UniqueFd pfd = TRY(OpenInRoot(root.get(), Rel(parent), O_PATH | O_DIRECTORY));
    TRY(ClearSlot(pfd.get(), name, target, e.kind == EntryKind::kDir));
    struct timespec times[2] = {e.mtime, e.mtime};

    switch (e.kind) {
      case EntryKind::kDir: {
        struct stat cur {};
        if (::fstatat(pfd.get(), name.c_str(), &cur, AT_SYMLINK_NOFOLLOW) == 0) {
          if (!e.dest.empty() || req.chmod) {
            // A merged subdirectory takes the source's ownership and mode.
            if (::fchownat(pfd.get(), name.c_str(), owner.first, owner.second, AT_SYMLINK_NOFOLLOW) != 0)
              return FailErrno("chown " + target);
          }
          break;
        }
        if (::mkdirat(pfd.get(), name.c_str(), 0700) != 0) return FailErrno("mkdir " + target);
        if (::fchownat(pfd.get(), name.c_str(), owner.first, owner.second, AT_SYMLINK_NOFOLLOW) != 0)
          return FailErrno("chown " + target);
        if (::fchmodat(pfd.get(), name.c_str(), mode, 0) != 0) return FailErrno("chmod " + target);
        break;
      }
      case EntryKind::kFile: {
        UniqueFd src = TRY(ctx.OpenBeneath(e.src, O_RDONLY));
        int dfd =
            ::openat(pfd.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dfd < 0) return FailErrno("create " + target);
        UniqueFd dst(dfd);
        TRY(CopyData(src.get(), dst.get(), target));
        if (::fchown(dst.get(), owner.first, owner.second) != 0) return FailErrno("chown " + target);
        // After chown, which clears setuid/setgid bits.
        if (::fchmod(dst.get(), mode) != 0) return FailErrno("chmod " + target);
        if (::futimens(dst.get(), times) != 0) return FailErrno("set times of " + target);
        break;
      }
      case EntryKind::kSymlink: {
        if (::symlinkat(e.link_target.c_str(), pfd.get(), name.c_str()) != 0)
          return FailErrno("symlink " + target);
        if (::fchownat(pfd.get(), name.c_str(), owner.first, owner.second, AT_SYMLINK_NOFOLLOW) != 0)
          return FailErrno("chown " + target);
        if (::utimensat(pfd.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
          return FailErrno("set times of " + target);
        break;
      }
    }
  }
  return {};
}

}  // namespace moor::build
