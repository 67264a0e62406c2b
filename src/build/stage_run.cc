// RUN: the command runs as a container on the step's mounted rootfs, through
// the runtime library in this process; its writes land in the overlay upper
// dir, which becomes the layer.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "build/in_root.h"
#include "build/stage.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/run/image_spec.h"
#include "image/run/run_image.h"

namespace moor::build {
namespace {

std::string RandomHex(size_t n) {
  std::random_device rd;
  std::string s;
  const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) s += hex[rd() % 16];
  return s;
}

// Mount destinations that do not exist in the rootfs yet: the runtime creates
// them (/proc, /dev, /etc/resolv.conf …) and they must not end up in the layer.
std::vector<std::string> MissingMountPoints(const std::string& rootfs, const oci::Spec& spec) {
  std::vector<std::string> missing;
  int rfd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return missing;
  UniqueFd root(rfd);
  for (const auto& m : spec.mounts) {
    std::string prefix;
    for (const auto& part : Split(m.destination, '/')) {
      if (part.empty()) continue;
      prefix = prefix.empty() ? part : prefix + "/" + part;
      if (OpenInRoot(root.get(), prefix, O_PATH | O_NOFOLLOW)) continue;
      if (std::find(missing.begin(), missing.end(), prefix) == missing.end()) missing.push_back(prefix);
      break;
    }
  }
  return missing;
}

// stdin of RUN is /dev/null, as in Docker; restored afterwards.
class NullStdin {
 public:
  NullStdin() {
    saved_ = ::dup(0);
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, 0);
      ::close(fd);
    }
  }
  ~NullStdin() {
    if (saved_ >= 0) {
      ::dup2(saved_, 0);
      ::close(saved_);
    }
  }
  NullStdin(const NullStdin&) = delete;
  NullStdin& operator=(const NullStdin&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace

Result<int> RunInRootfs(const StageState& st, StepRootfs& fs, const RunStepRequest& req,
                        std::vector<std::string>& created_mount_points) {
  image::RunRequest rr;
  rr.id = "moor-build-" + RandomHex(12);
  rr.rootfs = fs.rootfs();
  rr.args = req.argv;
  rr.entrypoint = std::vector<std::string>{};  // RUN never goes through the ENTRYPOINT
  rr.env = req.extra_env;
  rr.host_network = req.host_network;
  oci::Spec spec = TRY(image::SpecForImage(st.config, rr));
  spec.root.path = fs.rootfs();
  created_mount_points = MissingMountPoints(fs.rootfs(), spec);

  std::string bundle = fs.work() + "/bundle";
  TRY(MkdirAll(bundle, 0700));
  TRY(MkdirAll(req.state_root, 0700));
  std::fflush(stdout);
  std::fflush(stderr);
  NullStdin null_stdin;
  return image::RunPrepared(req.state_root, rr.id, bundle, spec, image::RunIo{});
}

}  // namespace moor::build
