// moor config [-f FILE] [--format yaml|json] [--profile P]... [-q] [--services]:
// validates the app file and prints it normalised (every default filled in,
// short forms expanded, keys sorted), as `docker compose config` does. On an
// invalid file: every error on its own line (FILE:LINE:COLUMN: message — hint)
// and exit status 1.
#include <cstdio>

#include "app/app_file.h"
#include "cli/context.h"
#include "common/file.h"

namespace moor::cli {

Result<int> CmdConfig(const Globals&, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"file", "f", true, false},
                                   {"format", "", true, false},
                                   {"profile", "", true, true},
                                   {"quiet", "q", false, false},
                                   {"services", "", false, false}}));
  if (!a.positional.empty())
    return FailInvalid("config: unexpected argument \"" + a.positional[0] +
                       "\"; usage: moor config [-f FILE] [--format json]");
  std::string format = a.Get("format", "yaml");
  if (format != "yaml" && format != "json")
    return FailInvalid("config: unknown --format \"" + format + "\"; use yaml or json");
  std::string path = a.Has("file") ? a.Get("file") : TRY(app::FindAppFile("."));
  auto text = ReadFile(path);
  if (!text) return FailInvalid("config: cannot read " + path + ": " + text.error().message());
  std::vector<app::Diagnostic> errors;
  app::AppFile file = app::ParseAppFile(*text, path, a.All("profile"), &errors);
  if (!errors.empty()) {
    for (auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "moor: %s: %zu error%s, nothing done\n", path.c_str(), errors.size(),
                 errors.size() == 1 ? "" : "s");
    return 1;
  }
  if (a.Bool("quiet")) return 0;
  if (a.Bool("services")) {
    for (auto& name : app::StartOrder(file)) Out(name + "\n");
    return 0;
  }
  Out(format == "json" ? app::NormalizedJson(file).dump(2) + "\n" : app::NormalizedYaml(file));
  return 0;
}

}  // namespace moor::cli
