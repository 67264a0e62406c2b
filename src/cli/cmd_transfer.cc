// image load, image save, image import.
#include <fcntl.h>
#include <unistd.h>

#include "cli/context.h"
#include "common/fd.h"
#include "image/transfer_archive.h"

namespace moor::cli {

Result<int> CmdLoad(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"input", "i", true, false}, {"quiet", "q", false, false}}));
  UniqueFd file;
  int fd = STDIN_FILENO;
  if (a.Has("input") && a.Get("input") != "-") {
    file = UniqueFd(open(a.Get("input").c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return FailErrno("image load: open \"" + a.Get("input") + "\"");
    fd = file.get();
  } else if (isatty(STDIN_FILENO)) {
    return FailInvalid("image load: no archive given: use -i FILE or pipe one to stdin");
  }
  auto svc = TRY(OpenImages(g));
  auto progress = image::MakeProgress(STDOUT_FILENO, a.Bool("quiet"));
  auto names = TRY_CTX(image::LoadArchive(svc, fd, *progress), "image load");
  progress->Flush();
  if (a.Bool("quiet")) {
    for (auto& n : names) Out(n + "\n");
  }
  return 0;
}

Result<int> CmdSave(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"output", "o", true, false}}));
  if (a.positional.empty()) return FailInvalid("image save: give at least one image");
  auto svc = TRY(OpenImages(g));
  if (!a.Has("output") || a.Get("output") == "-") {
    if (isatty(STDOUT_FILENO)) {
      return FailInvalid("image save: refusing to write an archive to a terminal: use -o FILE or redirect");
    }
    TRY_CTX(image::SaveArchive(svc, a.positional, STDOUT_FILENO), "image save");
    return 0;
  }
  // Write next to the target and rename, so a failed save leaves no half file.
  std::string out = a.Get("output");
  std::string tmp = out + ".moor-tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("image save: create \"" + tmp + "\"");
  auto r = image::SaveArchive(svc, a.positional, fd.get());
  if (r && fsync(fd.get()) != 0) r = FailErrno("image save: fsync");
  if (!r) {
    unlink(tmp.c_str());
    return Fail(std::move(r.error()).Wrap("image save"));
  }
  if (rename(tmp.c_str(), out.c_str()) != 0) {
    unlink(tmp.c_str());
    return FailErrno("image save: rename to \"" + out + "\"");
  }
  return 0;
}

Result<int> CmdImport(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"change", "c", true, true},
                                   {"message", "m", true, false},
                                   {"platform", "", true, false}}));
  if (a.positional.empty() || a.positional.size() > 2) {
    return FailInvalid("image import: usage: moor image import FILE|- [NAME]");
  }
  image::ImportOptions opts;
  if (a.positional.size() == 2) opts.name = a.positional[1];
  opts.changes = a.All("change");
  opts.message = a.Get("message");
  if (a.Has("platform")) opts.platform = TRY(image::ParsePlatform(a.Get("platform")));
  UniqueFd file;
  int fd = STDIN_FILENO;
  if (a.positional[0] != "-") {
    file = UniqueFd(open(a.positional[0].c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return FailErrno("image import: open \"" + a.positional[0] + "\"");
    fd = file.get();
  }
  auto svc = TRY(OpenImages(g));
  auto id = TRY_CTX(image::ImportRootfs(svc, fd, opts), "image import");
  Out(id.str() + "\n");
  return 0;
}

}  // namespace moor::cli
