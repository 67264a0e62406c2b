// Fuzz target: bytes → ExtractLayer (gzip/zstd/plain tar, small limits) into
// a fresh directory. Nothing may crash or trip a sanitizer, every error must
// say something, and nothing may appear outside the extraction root: each
// input gets <work>/root beside a sentinel file that must stay as it was.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/fd.h"
#include "common/file.h"
#include "image/archive/compress.h"
#include "image/archive/extract.h"

namespace {

struct Work {
  std::string dir;
  long ok = 0, failed = 0;
  Work() {
    char tmpl[] = "/tmp/moor-extract-fuzz.XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    dir = tmpl;
    if (!moor::WriteFileAtomic(dir + "/sentinel", "sentinel")) std::abort();
  }
  ~Work() {
    (void)moor::RemoveAll(dir);
    std::fprintf(stderr, "extract_fuzz: %ld extracted, %ld refused\n", ok, failed);
  }
} work;

// The work dir must hold exactly the sentinel (unchanged) and root.
void CheckNothingOutside() {
  auto sentinel = moor::ReadFile(work.dir + "/sentinel");
  if (!sentinel || *sentinel != "sentinel") std::abort();
  DIR* d = ::opendir(work.dir.c_str());
  if (!d) std::abort();
  int names = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (n != "sentinel" && n != "root") {
      std::fprintf(stderr, "extract_fuzz: %s appeared outside the root\n", n.c_str());
      std::abort();
    }
    ++names;
  }
  ::closedir(d);
  if (names != 2) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string root = work.dir + "/root";
  if (::mkdir(root.c_str(), 0755) != 0) std::abort();
  moor::UniqueFd src(::memfd_create("fuzz-layer", MFD_CLOEXEC));
  moor::UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src || !root_fd || !moor::image::WriteAllFd(src.get(), data, size)) std::abort();
  ::lseek(src.get(), 0, SEEK_SET);

  moor::image::ExtractOptions opts;
  opts.limits.max_total_bytes = 1 << 20;
  opts.limits.max_entries = 256;
  opts.limits.max_entry_bytes = 256 << 10;
  opts.limits.max_path_bytes = 1024;
  opts.limits.max_ratio = 100;
  opts.allow_devices = false;
  opts.whiteouts = (size & 1) ? moor::image::WhiteoutMode::kFlatten : moor::image::WhiteoutMode::kOverlay;
  auto r = moor::image::ExtractLayer(src.get(), root_fd.get(), opts);
  if (r) {
    ++work.ok;
    if (r->compressed_bytes != size) std::abort();  // the blob digest covers every byte
  } else {
    ++work.failed;
    if (r.error().message().empty() || r.error().message().find('\n') != std::string::npos) std::abort();
  }
  root_fd.Reset();
  CheckNothingOutside();
  if (!moor::RemoveAll(root)) std::abort();
  return 0;
}
