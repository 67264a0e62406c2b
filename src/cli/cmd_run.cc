// run: an image in the foreground through the runtime library, until the
// engine (issue 4) runs containers under its daemon. The container's writes
// live in a private overlay upper dir that is removed when it exits (as with
// `docker run --rm`).
#include <unistd.h>

#include <random>

#include "cli/context.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/pull.h"
#include "image/run/image_spec.h"
#include "image/run/run_image.h"
#include "runtime/self_exe.h"

namespace moor::cli {

namespace {

std::string RandomHex(size_t n) {
  std::random_device rd;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  while (out.size() < n) out.push_back(kHex[rd() % 16]);
  return out;
}

Result<image::BindMount> ParseVolume(const std::string& v) {
  auto parts = Split(v, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    return FailInvalid("-v " + v + ": want SRC:DST[:ro|rw] (absolute paths)");
  }
  image::BindMount b{parts[0], parts[1], false};
  if (parts.size() == 3) {
    if (parts[2] == "ro") {
      b.read_only = true;
    } else if (parts[2] != "rw") {
      return FailInvalid("-v " + v + ": mode must be ro or rw");
    }
  }
  if (b.source[0] != '/' || b.destination[0] != '/') {
    return FailInvalid("-v " + v + ": named volumes come with the engine; give absolute host and container paths");
  }
  if (access(b.source.c_str(), F_OK) != 0) return FailErrno("-v " + v + ": source \"" + b.source + "\"");
  return b;
}

}  // namespace

Result<int> CmdRun(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args,
                            {{"rm", "", false, false},
                             {"interactive", "i", false, false},
                             {"tty", "t", false, false},
                             {"env", "e", true, true},
                             {"user", "u", true, false},
                             {"workdir", "w", true, false},
                             {"entrypoint", "", true, false},
                             {"network", "", true, false},
                             {"net", "", true, false},
                             {"volume", "v", true, true},
                             {"read-only", "", false, false},
                             {"hostname", "", true, false},
                             {"name", "", true, false},
                             {"pull", "", true, false},
                             {"quiet", "q", false, false}},
                            /*stop_at_positional=*/true));
  if (a.positional.empty()) return FailInvalid("run: usage: moor run [OPTIONS] IMAGE [COMMAND [ARG...]]");
  if (a.Bool("tty")) {
    return FailInvalid("run: -t (a terminal) needs the moor daemon, which is not there yet; run without -t");
  }
  std::string network = a.Get("network", a.Get("net", "none"));
  if (network != "none" && network != "host") {
    return FailInvalid("run: --network " + network + ": only \"none\" and \"host\" exist until the engine's networks");
  }
  // The runtime enters the container from this process: run from a sealed copy
  // of this binary (CVE-2019-5736). Re-executes with the same arguments.
  TRY(runtime::EnsureSealedSelf(g.argv, g.envp, runtime::kSelfCopyDir));

  auto svc = TRY(OpenImages(g));
  const std::string& ref = a.positional[0];
  std::string pull = a.Get("pull", "missing");
  if (pull != "missing" && pull != "always" && pull != "never") {
    return FailInvalid("run: --pull must be missing, always or never");
  }
  auto img = svc.Resolve(ref);
  if (pull == "always" || (!img && pull == "missing")) {
    if (!img) std::fprintf(stderr, "Unable to find image '%s' locally\n", ref.c_str());
    auto progress = image::MakeProgress(STDERR_FILENO, a.Bool("quiet"));
    TRY(image::Pull(svc, ref, image::PullOptions{}, *progress));
    progress->Flush();
    img = svc.Resolve(ref);
  }
  if (!img) return Fail(std::move(img.error()));
  auto lowers = TRY(svc.Layers(*img));

  image::RunRequest req;
  req.id = a.Has("name") ? a.Get("name") : "moor-run-" + RandomHex(12);
  req.args.assign(a.positional.begin() + 1, a.positional.end());
  if (a.Has("entrypoint")) {
    std::string e = a.Get("entrypoint");
    req.entrypoint = e.empty() ? std::vector<std::string>{} : std::vector<std::string>{e};
  }
  req.env = a.All("env");
  req.user = a.Get("user");
  req.workdir = a.Get("workdir");
  req.hostname = a.Get("hostname");
  req.host_network = network == "host";
  req.read_only_rootfs = a.Bool("read-only");
  for (auto& v : a.All("volume")) req.binds.push_back(TRY(ParseVolume(v)));

  std::string work = g.root + "/run/" + req.id;
  if (access(work.c_str(), F_OK) == 0) return FailInvalid("run: a container named " + req.id + " is running");
  TRY(MkdirAll(g.root + "/run", 0700));
  image::ImageConfig cfg = img->config;
  auto make_spec = [&](const std::string& rootfs) -> Result<oci::Spec> {
    image::RunRequest r = req;
    r.rootfs = rootfs;
    return image::SpecForImage(cfg, r);
  };
  return image::RunImage(lowers, work, make_spec, "/run/moor/run", req.id, image::RunIo{});
}

}  // namespace moor::cli
