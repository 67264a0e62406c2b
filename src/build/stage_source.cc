#include "build/stage_source.h"

#include "common/file.h"
#include "image/snapshot/snapshotter.h"

namespace moor::build {

Result<SourceRootfs> SourceRootfs::Mount(image::ImageService& svc, const std::vector<std::string>& lowers) {
  SourceRootfs s;
  if (lowers.size() == 1) {
    s.path_ = lowers[0];
    return s;
  }
  s.work_ = TRY(svc.snapshots().MakeTemp());
  s.path_ = s.work_ + "/rootfs";
  TRY(MkdirAll(s.path_, 0755));
  if (lowers.empty()) return s;
  TRY(MkdirAll(s.work_ + "/rw", 0700));
  TRY_CTX(image::MountOverlay(lowers, s.work_ + "/rw", s.path_, /*read_only=*/true),
          "mount the COPY --from source");
  s.mounted_ = true;
  return s;
}

SourceRootfs::SourceRootfs(SourceRootfs&& o) noexcept
    : path_(std::move(o.path_)), work_(std::move(o.work_)), mounted_(o.mounted_) {
  o.work_.clear();
  o.mounted_ = false;
}

SourceRootfs::~SourceRootfs() {
  if (mounted_) (void)image::UnmountOverlay(path_);
  if (!work_.empty()) (void)RemoveAll(work_);
}

}  // namespace moor::build
