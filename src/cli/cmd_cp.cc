// cp: CONTAINER:PATH ↔ local path through the archive endpoints
// (GET / PUT /containers/{id}/archive, HEAD for what the destination is).
// "-" as the local side streams a tar on stdin / stdout instead.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "cli/daemon_client.h"
#include "cli/tar_io.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

struct CpSide {
  std::string container;  // empty: local
  std::string path;
};

CpSide ParseSide(const std::string& arg) {
  // "name:/path"; a local path with a colon must start with "/" or ".".
  auto colon = arg.find(':');
  if (colon == std::string::npos || colon == 0 || arg[0] == '/' || arg[0] == '.') return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

std::string BaseName(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string DirName(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

bool LocalIsDir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// Whether the container path is an existing directory: HEAD answers 404 when
// it does not exist, and docker's stat header tells a directory (Go's
// os.ModeDir bit) from a file. Without the header, an existing path is
// taken for a directory.
Result<bool> ContainerIsDir(Daemon& d, const std::string& archive_target) {
  auto r = TRY(d.http().Do("HEAD", archive_target));
  if (r.status == 404) return false;
  if (r.status >= 300 && r.status != 405) return Fail(ResponseError(r));
  auto h = r.headers.find("x-docker-container-path-stat");
  if (h == r.headers.end()) return true;
  json st = json::parse(Base64Decode(h->second), nullptr, false);
  if (!st.is_object()) return true;
  return (st.value("mode", uint64_t{0}) & (uint64_t{1} << 31)) != 0;
}

Result<std::string> ReadStdin() {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read stdin");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

Result<int> CmdCp(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"archive", "a", false, false}, {"follow-link", "L", false, false}}));
  if (a.positional.size() != 2) {
    return FailInvalid("cp: usage: moor cp CONTAINER:SRC DEST | moor cp SRC CONTAINER:DEST");
  }
  CpSide src = ParseSide(a.positional[0]), dst = ParseSide(a.positional[1]);
  if (src.container.empty() == dst.container.empty()) {
    return FailInvalid("cp: exactly one side must be CONTAINER:PATH");
  }
  auto d = TRY(Daemon::Connect(g));
  if (!src.container.empty()) {
    std::string target = "/containers/" + Esc(src.container) + "/archive?path=" + Esc(src.path);
    auto r = TRY(d.Call("GET", target));
    if (dst.path == "-") {
      Out(r.body);
      return 0;
    }
    // Into an existing directory keeps the name; anything else is the new name.
    std::string dest = LocalIsDir(dst.path) ? dst.path + "/" + BaseName(src.path) : dst.path;
    if (!LocalIsDir(DirName(dest))) return FailInvalid("cp: no directory " + DirName(dest) + " to copy into");
    TRY_CTX(UnpackRenamed(r.body, dest), "cp");
    return 0;
  }
  std::string base = "/containers/" + Esc(dst.container) + "/archive?path=";
  std::string tar;
  std::string into;
  if (src.path == "-") {
    tar = TRY(ReadStdin());
    into = dst.path;
  } else {
    struct stat st {};
    if (lstat(src.path.c_str(), &st) != 0) return FailErrno("cp: " + src.path);
    bool is_dir = dst.path.ends_with("/") || TRY(ContainerIsDir(d, base + Esc(dst.path)));
    std::string name = is_dir ? BaseName(src.path) : BaseName(dst.path);
    into = is_dir ? dst.path : DirName(dst.path);
    tar = TRY_CTX(PackPath(src.path, name), "cp");
  }
  TRY(d.Call("PUT", base + Esc(into), tar));
  return 0;
}

}  // namespace moor::cli
