// Internal: a read-only view of another stage's or image's layers, the
// source of COPY --from. One layer is used in place, none gives an empty
// dir, more are overlay-mounted read-only; all undone on destruction.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "image/image_service.h"

namespace moor::build {

class SourceRootfs {
 public:
  static Result<SourceRootfs> Mount(image::ImageService& svc, const std::vector<std::string>& lowers);
  SourceRootfs(SourceRootfs&& o) noexcept;
  SourceRootfs& operator=(SourceRootfs&&) = delete;
  ~SourceRootfs();

  const std::string& path() const { return path_; }

 private:
  SourceRootfs() = default;
  std::string path_;
  std::string work_;  // scratch dir to remove ("" when a layer is used in place)
  bool mounted_ = false;
};

}  // namespace moor::build
