// build: a Dockerfile into an image (docs/build.md).
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "build/builder.h"
#include "cli/context.h"
#include "runtime/self_exe.h"

namespace moor::cli {

Result<int> CmdBuild(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"tag", "t", true, true},
                                   {"file", "f", true, false},
                                   {"build-arg", "", true, true},
                                   {"target", "", true, false},
                                   {"no-cache", "", false, false},
                                   {"network", "", true, false},
                                   {"quiet", "q", false, false}}));
  if (a.positional.size() != 1) {
    return FailInvalid("build: usage: moor build -t NAME [-f Dockerfile] [--build-arg K=V] CONTEXT");
  }
  build::BuildOptions opts;
  opts.context_dir = a.positional[0];
  opts.dockerfile = a.Get("file");
  opts.tags = a.All("tag");
  opts.target = a.Get("target");
  opts.no_cache = a.Bool("no-cache");
  std::string network = a.Get("network", "host");
  if (network != "host" && network != "none") return FailInvalid("build: --network must be host or none");
  opts.host_network = network == "host";
  for (auto& kv : a.All("build-arg")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      // Docker: "--build-arg K" takes K from the environment, and is skipped when unset.
      if (const char* v = getenv(kv.c_str())) opts.build_args[kv] = v;
      continue;
    }
    opts.build_args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // RUN steps enter containers from this process (CVE-2019-5736: run sealed).
  TRY(runtime::EnsureSealedSelf(g.argv, g.envp, runtime::kSelfCopyDir));
  auto svc = TRY(OpenImages(g));
  bool quiet = a.Bool("quiet");
  auto progress = image::MakeProgress(STDOUT_FILENO, quiet);
  std::ostringstream sink;
  std::ostream& out = quiet ? static_cast<std::ostream&>(sink) : std::cout;
  auto id = TRY(build::Build(svc, opts, *progress, out));
  out.flush();
  if (quiet) Out(id.str() + "\n");
  return 0;
}

}  // namespace moor::cli
