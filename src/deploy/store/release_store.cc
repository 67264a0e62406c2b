// ReleaseStore: opening the store, what is present, tree reads, service dirs.
#include "deploy/store/release_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "deploy/store/fs_ops.h"
#include "deploy/store/store_impl.h"
#include "deploy/tree/tree.h"

namespace moor::deploy {

using store_detail::OpenDirAt;

namespace {

// An app or service name as one path component below releases/.
Result<void> CheckComponent(const std::string& what, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || name.size() > 255) {
    return FailInvalid("bad " + what + " name \"" + name + "\" for a release directory");
  }
  return {};
}

Result<UniqueFd> OpenPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  return fd;
}

}  // namespace

Result<UniqueFd> ReleaseStore::Impl::OpenServiceDir(const std::string& app, const std::string& svc) const {
  TRY(CheckComponent("app", app));
  TRY(CheckComponent("service", svc));
  UniqueFd a = TRY_CTX(OpenDirAt(releases_fd.get(), app), "releases of " + app);
  return TRY_CTX(OpenDirAt(a.get(), svc), "releases of " + app + "/" + svc);
}

ReleaseStore::ReleaseStore(std::string root) : root_(std::move(root)) {}
ReleaseStore::~ReleaseStore() = default;

Result<std::unique_ptr<ReleaseStore>> ReleaseStore::Open(const std::string& deploy_root) {
  std::string root = deploy_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  auto store = std::unique_ptr<ReleaseStore>(new ReleaseStore(root));
  const std::string ctx = "release store " + root;
  image::ContentStore content = TRY_CTX(image::ContentStore::Open(root + "/content"), ctx);
  TRY_CTX(MkdirAll(root + "/content/exec", 0700), ctx);
  TRY_CTX(MkdirAll(root + "/releases", 0755), ctx);
  store->impl_ = std::make_unique<Impl>(std::move(content));
  Impl& im = *store->impl_;
  im.releases = root + "/releases";
  im.blobs_fd = TRY_CTX(OpenPath(root + "/content/blobs/sha256"), ctx);
  im.exec_fd = TRY_CTX(OpenPath(root + "/content/exec"), ctx);
  im.releases_fd = TRY_CTX(OpenPath(im.releases), ctx);
  struct stat c, r;
  if (::fstat(im.blobs_fd.get(), &c) != 0 || ::fstat(im.releases_fd.get(), &r) != 0) return FailErrno("stat " + root);
  if (c.st_dev != r.st_dev) {
    return FailInvalid(root + "/content and " + root +
                       "/releases are on different filesystems; releases are hardlinks of blobs, put both on one");
  }
  return store;
}

bool ReleaseStore::Has(const image::Digest& d) const {
  return store_detail::BlobSizeAt(impl_->blobs_fd.get(), d) >= 0;
}

std::vector<image::Digest> ReleaseStore::MissingTrees(std::span<const image::Digest> trees) const {
  std::vector<image::Digest> out;
  for (const auto& d : trees) {
    if (!Has(d)) out.push_back(d);
  }
  return out;
}

HaveAnswer ReleaseStore::Have(std::span<const image::Digest> blobs) const {
  HaveAnswer a;
  const std::string ingest = impl_->content.root() + "/ingest/";
  for (const auto& d : blobs) {
    if (Has(d)) continue;
    a.missing.push_back(d);
    struct stat st;
    if (!d.empty() && ::stat((ingest + d.hex() + "/data").c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      a.partial[d] = static_cast<int64_t>(st.st_size);
    }
  }
  return a;
}

Result<void> ReleaseStore::Sync(std::span<const image::Digest> digests) {
  TRY_CTX(impl_->content.SyncBlobs(digests), "sync release store");
  return {};
}

Result<void> ReleaseStore::SyncAll() {
  if (::syncfs(impl_->blobs_fd.get()) != 0) return FailErrno("sync release store");
  return {};
}

Result<std::string> ReleaseStore::ReadTree(const image::Digest& d) const {
  return store_detail::ReadTreeAt(impl_->blobs_fd.get(), d);
}

std::string ReleaseStore::ServiceDir(const std::string& app, const std::string& svc) const {
  return impl_->releases + "/" + app + "/" + svc;
}

Result<void> ReleaseStore::EnsureServiceDir(const std::string& app, const std::string& svc) {
  TRY(CheckComponent("app", app));
  TRY(CheckComponent("service", svc));
  for (const std::string& dir : {impl_->releases + "/" + app, ServiceDir(app, svc)}) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return FailErrno("create " + dir);
  }
  TRY(impl_->OpenServiceDir(app, svc));  // a symlink in the way is refused here
  return {};
}

void ReleaseStore::SetLinkFaultForTest(int errnum) {
  impl_->link_fault.store(errnum);
}

}  // namespace moor::deploy
