#include "deploy/tree/ignore_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "common/fd.h"
#include "common/strings.h"
#include "deploy/tree/hash_cache.h"
#include "deploy/tree/scan_error.h"
#include "image/core/digest.h"

namespace moor::deploy {

namespace {

// Appends DIR/name to `out`; false when the file does not exist.
Result<bool> ReadAt(int dir_fd, const std::string& dir, const char* name, std::string& out) {
  UniqueFd fd(openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) return false;
    return FailErrnoHint("cannot read \"" + dir + "/" + name + "\"", "make it a readable file, or remove it");
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return FailErrnoHint("cannot read \"" + dir + "/" + name + "\"", "make it a readable file, or remove it");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (16u << 20)) return FailInvalid("\"" + dir + "/" + name + "\" is larger than 16 MiB");
  }
  return true;
}

}  // namespace

Result<IgnoreRules> LoadIgnoreRules(int dir_fd, const std::string& dir) {
  IgnoreRules r;
  std::string text;
  for (const char* name : {".moorignore", ".dockerignore"}) {
    if (TRY(ReadAt(dir_fd, dir, name, text))) {
      r.file = name;
      break;
    }
  }
  std::vector<std::string> lines = Split(text, '\n');
  for (const auto& line : lines) {
    std::string_view l = Trim(line);
    if (!l.starts_with('!')) continue;
    if (l.find(".git") != std::string_view::npos) r.enter_git = true;
  }
  // .git first, so a "!.git" rule of the file can bring it back.
  std::vector<std::string> patterns;
  patterns.reserve(lines.size() + 1);
  patterns.emplace_back(".git");
  for (auto& line : lines) patterns.push_back(std::move(line));
  auto m = build::IgnoreMatcher::FromPatterns(patterns);
  if (!m) {
    std::string msg = m.error().message();
    if (msg.starts_with(".dockerignore: ")) msg.erase(0, 15);
    return FailInvalid(dir + "/" + r.file + ": " + msg + " (fix the pattern)");
  }
  r.matcher = std::move(*m);
  r.enter_excluded = r.matcher.HasExceptions();
  image::Sha256 h;
  h.Update("moor-deploy-ignore 1\n");
  h.Update(r.file);
  h.Update(std::string_view("\0", 1));
  h.Update(text);
  r.digest = RawOf(h.Finish().hex());
  return r;
}

}  // namespace moor::deploy
