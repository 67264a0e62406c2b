#include "build/build_context.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/strings.h"

namespace moor::build {
namespace {

std::string JoinRel(std::string_view a, std::string_view b) {
  if (a.empty() || a == ".") return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

std::string BaseName(std::string_view p) {
  size_t s = p.rfind('/');
  return std::string(s == std::string_view::npos ? p : p.substr(s + 1));
}

Result<std::vector<std::string>> ListDir(int dirfd) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno("open directory");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return FailErrno("fdopendir");
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> ReadLinkAt(int dirfd, const std::string& name) {
  std::string buf(4096, '\0');
  ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
  if (n < 0) return FailErrno("readlink " + name);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

// Fills an entry from lstat data; hashes file content through `fd_for_content`.
Result<void> Describe(CopyEntry& e, const struct stat& st, int parent_fd, const std::string& name) {
  e.mode = st.st_mode & 07777;
  e.size = st.st_size;
  e.mtime = st.st_mtim;
  if (S_ISDIR(st.st_mode)) {
    e.kind = EntryKind::kDir;
  } else if (S_ISLNK(st.st_mode)) {
    e.kind = EntryKind::kSymlink;
    e.link_target = TRY(ReadLinkAt(parent_fd, name));
  } else {
    e.kind = EntryKind::kFile;
    int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return FailErrno("open " + e.src);
    UniqueFd owned(fd);
    e.content = TRY_CTX(image::Sha256OfFd(fd), e.src);
  }
  return {};
}

}  // namespace

bool HasWildcard(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

Result<BuildContext> BuildContext::Open(const std::string& dir, const std::string& dockerfile_rel) {
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno("build context " + dir);
  UniqueFd root(fd);
  IgnoreMatcher ignore = TRY(IgnoreMatcher::ForContext(dir, dockerfile_rel));
  return BuildContext(dir, std::move(root), std::move(ignore), false);
}

Result<BuildContext> BuildContext::OpenRootfs(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno("source rootfs " + dir);
  return BuildContext(dir, UniqueFd(fd), IgnoreMatcher(), true);
}

Result<UniqueFd> BuildContext::OpenBeneath(const std::string& rel, int flags) const {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = (in_root_ ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root_.get(), rel.c_str(), &how, sizeof how));
  if (fd < 0) return FailErrno(rel);
  return UniqueFd(fd);
}

Result<CopyPlan> BuildContext::PlanCopy(const std::vector<std::string>& sources, std::string_view dest,
                                        std::string_view what) const {
  const std::string prefix = std::string(what) + " failed: ";
  // Expand wildcards into context paths.
  std::vector<std::string> resolved;
  for (const auto& raw : sources) {
    std::string clean = CleanPath(raw);
    if (clean.front() == '/') clean = CleanPath(clean.substr(1));
    if (clean == ".." || StartsWith(clean, "../"))
      return FailInvalid(prefix + "forbidden path outside the build context: " + raw);
    if (!HasWildcard(clean)) {
      if (clean != "." && ignore_.Excluded(clean))
        return FailInvalid(prefix + "file not found in build context or excluded by .dockerignore: " + raw);
      resolved.push_back(clean);
      continue;
    }
    // Walk as deep as the pattern has components, matching at that depth.
    size_t depth = Split(clean, '/').size();
    std::vector<std::string> found;
    std::vector<std::pair<std::string, size_t>> stack = {{".", 0}};
    while (!stack.empty()) {
      auto [dir, level] = stack.back();
      stack.pop_back();
      auto fd = OpenBeneath(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (!fd) continue;
      auto names = TRY(ListDir(fd->get()));
      for (const auto& n : names) {
        std::string rel = JoinRel(dir, n);
        if (level + 1 == depth) {
          if (GlobMatch(clean, rel) && !ignore_.Excluded(rel)) found.push_back(rel);
          continue;
        }
        struct stat st {};
        if (::fstatat(fd->get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
          stack.emplace_back(rel, level + 1);
      }
    }
    std::sort(found.begin(), found.end());
    resolved.insert(resolved.end(), found.begin(), found.end());
  }
  if (resolved.empty())
    return FailInvalid(prefix + "no source files were specified (no file matches " + Join(sources, " ") +
                       ")");

  CopyPlan plan;
  plan.dest_is_dir =
      !dest.empty() && (dest.back() == '/' || (dest.size() >= 2 && dest.substr(dest.size() - 2) == "/."));
  if (resolved.size() > 1) {
    if (!plan.dest_is_dir)
      return FailInvalid(
          prefix + "when using " + std::string(what) +
          " with more than one source file, the destination must be a directory and end with a /");
  }

  for (const auto& src : resolved) {
    // The source itself: symlinks followed, but only inside the context.
    auto fd = OpenBeneath(src, O_PATH);
    if (!fd) {
      int err = fd.error().errnum();
      if (err == EXDEV || err == ELOOP)
        return FailInvalid(prefix + "forbidden path outside the build context: " + src);
      if (err == ENOENT)
        return FailInvalid(prefix + "file not found in build context or excluded by .dockerignore: " + src);
      return std::unexpected(std::move(fd.error()).Wrap(prefix + "source"));
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return FailErrno(prefix + "stat " + src);
    if (!S_ISDIR(st.st_mode)) {
      CopyEntry e;
      e.src = src;
      e.dest = plan.dest_is_dir ? BaseName(src) : "";
      // Re-open the resolved file for reading (the O_PATH fd may be a symlink's target).
      auto rfd = OpenBeneath(src, O_RDONLY);
      if (!rfd) return std::unexpected(std::move(rfd.error()).Wrap(prefix + "open"));
      e.mode = st.st_mode & 07777;
      e.size = st.st_size;
      e.mtime = st.st_mtim;
      e.kind = EntryKind::kFile;
      if (!S_ISREG(st.st_mode)) return FailInvalid(prefix + src + ": not a regular file or directory");
      e.content = TRY_CTX(image::Sha256OfFd(rfd->get()), src);
      plan.top_files.push_back(plan.entries.size());
      plan.entries.push_back(std::move(e));
      continue;
    }
    // A directory: its contents go into the destination.
    CopyEntry root;
    root.src = src;
    root.dest = "";
    root.kind = EntryKind::kDir;
    root.mode = st.st_mode & 07777;
    root.mtime = st.st_mtim;
    plan.entries.push_back(root);
    std::vector<std::pair<std::string, std::string>> stack = {{src, ""}};
    while (!stack.empty()) {
      auto [dir_src, dir_dest] = stack.back();
      stack.pop_back();
      auto dfd = OpenBeneath(dir_src, O_RDONLY | O_DIRECTORY);
      if (!dfd) return std::unexpected(std::move(dfd.error()).Wrap(prefix + "open directory"));
      auto names = TRY(ListDir(dfd->get()));
      std::vector<std::pair<std::string, std::string>> subdirs;
      for (const auto& n : names) {
        std::string rel = JoinRel(dir_src, n);
        bool excluded = ignore_.Excluded(rel);
        struct stat cst {};
        if (::fstatat(dfd->get(), n.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0)
          return FailErrno(prefix + "stat " + rel);
        bool is_dir = S_ISDIR(cst.st_mode);
        if (excluded && !(is_dir && ignore_.HasExceptions())) continue;
        if (!is_dir && !S_ISREG(cst.st_mode) && !S_ISLNK(cst.st_mode)) continue;  // sockets, fifos, devices
        CopyEntry e;
        e.src = rel;
        e.dest = JoinRel(dir_dest, n);
        TRY(Describe(e, cst, dfd->get(), n));
        if (!excluded) plan.entries.push_back(std::move(e));
        if (is_dir) subdirs.emplace_back(rel, JoinRel(dir_dest, n));
      }
      // Reverse so the stack pops them in sorted order.
      for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(*it);
    }
  }
  // A directory excluded itself but holding re-included files keeps its entry
  // implicitly: its children create it on write.
  plan.digest = DigestEntries(plan.entries, plan.dest_is_dir);
  return plan;
}

image::Digest DigestEntries(const std::vector<CopyEntry>& entries, bool dest_is_dir) {
  image::Sha256 h;
  h.Update(dest_is_dir ? "dir\n" : "path\n");
  for (const auto& e : entries) {
    std::string line = e.dest + '\0';
    line += e.kind == EntryKind::kDir ? 'd' : e.kind == EntryKind::kSymlink ? 'l' : 'f';
    line += ' ' + std::to_string(e.mode) + ' ';
    if (e.kind == EntryKind::kSymlink) line += e.link_target;
    if (e.kind == EntryKind::kFile) line += e.content.hex();
    line += '\n';
    h.Update(line);
  }
  return h.Finish();
}

}  // namespace moor::build
