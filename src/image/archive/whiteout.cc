// Whiteout entries (OCI image spec, "Whiteouts"): ".wh.NAME" hides NAME from
// lower layers, ".wh..wh..opq" hides all lower contents of its directory.
// Overlay mode records them the way overlayfs reads them in a lower layer;
// flatten mode applies them to the tree being extracted.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cerrno>

#include "image/archive/entry_path.h"
#include "image/archive/root_fs.h"
#include "image/archive/tar_entry.h"

namespace moor::image {

namespace {

constexpr std::string_view kPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";
// AUFS bookkeeping (".wh..wh.plnk", ".wh..wh.aufs"): meaningless here.
constexpr std::string_view kAufsMeta = ".wh..wh.";

Result<void> MarkOpaque(ExtractState& st, const std::string& dir) {
  if (st.opts.whiteouts == WhiteoutMode::kFlatten) {
    auto parent = OpenDirInRoot(st.root_fd, dir, false);
    if (!parent) return {};  // nothing below to hide
    return EmptyDirAt(parent->get(), ".", [&](const std::string& child) {
      return st.written.count(dir.empty() ? child : dir + "/" + child) > 0;
    });
  }
  UniqueFd opath = TRY(OpenDirInRoot(st.root_fd, dir, true));
  UniqueFd fd(::openat(opath.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrno("open directory");
  if (::fsetxattr(fd.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
    return FailErrno("set trusted.overlay.opaque (overlay whiteouts need root)");
  return {};
}

Result<void> WhiteOut(ExtractState& st, const std::string& dir, const std::string& name) {
  if (st.opts.whiteouts == WhiteoutMode::kFlatten) {
    // A whiteout hides lower layers only, never what this layer wrote.
    if (st.written.count(dir.empty() ? name : dir + "/" + name)) return {};
    auto parent = OpenDirInRoot(st.root_fd, dir, false);
    if (!parent) return {};
    return RemoveTreeAt(parent->get(), name);
  }
  UniqueFd parent = TRY(OpenDirInRoot(st.root_fd, dir, true));
  TRY(RemoveTreeAt(parent.get(), name));
  if (::mknodat(parent.get(), name.c_str(), S_IFCHR, makedev(0, 0)) != 0)
    return FailErrno("create whiteout device (overlay whiteouts need CAP_MKNOD)");
  return {};
}

Result<void> ApplyWhiteoutIn(ExtractState& st, const TarEntry& e) {
  SplitPath sp = SplitParent(e.path);
  if (sp.base == kOpaque) return MarkOpaque(st, sp.parent);
  if (sp.base.rfind(kAufsMeta, 0) == 0) return {};
  std::string name = sp.base.substr(kPrefix.size());
  if (name.empty() || name == "." || name == "..")
    return FailInvalid("whiteout names no entry (\"" + name + "\")");
  return WhiteOut(st, sp.parent, name);
}

}  // namespace

bool IsWhiteout(const std::string& clean_path) {
  return SplitParent(clean_path).base.rfind(kPrefix, 0) == 0;
}

Result<void> ApplyWhiteout(ExtractState& st, const TarEntry& e) {
  // Whiteouts remove things: a cached parent path may resolve differently.
  st.parent.valid = false;
  TRY_CTX(ApplyWhiteoutIn(st, e), "whiteout \"" + e.raw_name + "\"");
  return {};
}

}  // namespace moor::image
