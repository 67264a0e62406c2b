// Step rootfs mounts and turning an upper dir into a layer + snapshot.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build/in_root.h"
#include "build/stage.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/archive/layer_writer.h"
#include "image/snapshot/snapshotter.h"

namespace moor::build {

Result<UniqueFd> OpenInRoot(int root_fd, const std::string& rel, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string path = rel.empty() ? "." : rel;
  int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
  if (fd < 0) return FailErrno(rel.empty() ? "/" : "/" + rel);
  return UniqueFd(fd);
}

Result<bool> MkdirAllInRoot(int root_fd, const std::string& abs_dir,
                            std::optional<std::pair<uint32_t, uint32_t>> owner) {
  std::string clean = CleanPath(abs_dir);
  if (clean == "/" || clean == ".") return false;
  if (clean.front() == '/') clean.erase(0, 1);
  bool created = false;
  std::string prefix;
  for (const auto& part : Split(clean, '/')) {
    std::string parent = prefix;
    prefix = prefix.empty() ? part : prefix + "/" + part;
    auto fd = OpenInRoot(root_fd, prefix, O_PATH | O_DIRECTORY);
    if (fd) continue;
    if (fd.error().errnum() != ENOENT) return std::unexpected(std::move(fd.error()));
    UniqueFd pfd = TRY(OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY));
    if (::mkdirat(pfd.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
      return FailErrno("mkdir /" + prefix);
    if (owner && ::fchownat(pfd.get(), part.c_str(), owner->first, owner->second, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno("chown /" + prefix);
    created = true;
  }
  return created;
}

Result<bool> EnsureDirInRoot(const std::string& rootfs, const std::string& dir) {
  int fd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno(rootfs);
  UniqueFd root(fd);
  return MkdirAllInRoot(root.get(), dir, std::nullopt);
}

Result<StepRootfs> StepRootfs::Mount(image::ImageService& svc, const std::vector<std::string>& lowers) {
  std::string work = TRY(svc.snapshots().MakeTemp());
  StepRootfs fs(work);
  TRY(MkdirAll(fs.rootfs(), 0755));
  TRY(MkdirAll(work + "/rw", 0700));
  TRY_CTX(image::MountOverlay(lowers, work + "/rw", fs.rootfs()), "mount the build rootfs");
  fs.mounted_ = true;
  return fs;
}

StepRootfs::StepRootfs(StepRootfs&& o) noexcept : work_(std::move(o.work_)), mounted_(o.mounted_) {
  o.work_.clear();
  o.mounted_ = false;
}

Result<void> StepRootfs::Unmount() {
  if (!mounted_) return {};
  mounted_ = false;
  return image::UnmountOverlay(rootfs());
}

StepRootfs::~StepRootfs() {
  if (work_.empty()) return;
  (void)Unmount();
  (void)RemoveAll(work_);
}

Result<LayerResult> CommitLayer(image::ImageService& svc, const StageState& st, const std::string& upper,
                                const std::vector<std::string>& exclude) {
  int dfd = ::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return FailErrno("open layer dir " + upper);
  UniqueFd dir(dfd);
  std::string tmp_dir = svc.content().root() + "/tmp";
  TRY(MkdirAll(tmp_dir, 0700));
  int tfd = ::open(tmp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (tfd < 0) return FailErrno("temporary layer file in " + tmp_dir);
  UniqueFd tmp(tfd);
  image::LayerWriteOptions wo;
  wo.compression = image::Compression::kGzip;
  wo.exclude = exclude;
  image::LayerBlob blob = TRY_CTX(image::WriteLayer(dir.get(), tmp.get(), wo), "write layer");
  if (::lseek(tmp.get(), 0, SEEK_SET) != 0) return FailErrno("rewind layer file");
  TRY_CTX(svc.content().WriteBlobFromFd(tmp.get(), blob.digest), "store layer");

  LayerResult r;
  r.layer.media_type = std::string(image::media::kDockerLayerGzip);
  r.layer.digest = blob.digest;
  r.layer.size = blob.size;
  r.diff_id = blob.diff_id;
  std::vector<image::Digest> diff_ids = st.config.diff_ids;
  diff_ids.push_back(blob.diff_id);
  image::Digest chain = image::ChainIds(diff_ids).back();
  if (svc.snapshots().Has(chain)) {
    r.snapshot = svc.snapshots().Path(chain);
  } else {
    r.snapshot = TRY_CTX(svc.snapshots().Adopt(upper, chain, blob.diff_id), "adopt layer");
  }
  return r;
}

}  // namespace moor::build
