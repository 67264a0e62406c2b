// Internal to deploy/store: the state behind ReleaseStore and the content
// operations its .cc files share.
#pragma once

#include <atomic>
#include <mutex>
#include <cstdint>
#include <string>

#include "common/fd.h"
#include "deploy/store/release_store.h"
#include "image/store/content_store.h"

namespace moor::deploy {

struct ReleaseStore::Impl {
  explicit Impl(image::ContentStore c) : content(std::move(c)) {}

  image::ContentStore content;  // ROOT/deploy/content
  std::string releases;         // ROOT/deploy/releases
  UniqueFd blobs_fd;            // content/blobs/sha256
  UniqueFd exec_fd;             // content/exec
  UniqueFd releases_fd;
  std::atomic<int> link_fault{0};  // SetLinkFaultForTest
  std::mutex spare_mu;             // PrepareSpare, and a Materialise taking the spare

  // ServiceDir(app, svc), opened (names checked: one path component each).
  Result<UniqueFd> OpenServiceDir(const std::string& app, const std::string& svc) const;
};

namespace store_detail {

// A present blob's size, or -1 (one fstatat on blobs/sha256/<hex>).
int64_t BlobSizeAt(int blobs_fd, const image::Digest& d);
// A tree object's bytes, re-verified: absent → errnum ENOENT ("missing tree
// sha256:X"); wrong digest → errnum EIO ("… is corrupt on disk …").
Result<std::string> ReadTreeAt(int blobs_fd, const image::Digest& d);
// The 0555 copy of blob `d` in exec/, made once (FICLONE, else
// copy_file_range). Returns true when it was made now; errnum ENOENT
// ("missing blob sha256:X") when the blob is absent.
Result<bool> EnsureExecCopy(int blobs_fd, int exec_fd, const image::Digest& d);

}  // namespace store_detail
}  // namespace moor::deploy
