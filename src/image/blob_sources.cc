#include "image/blob_sources.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/fd.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::image {

Result<void> BlobSources::Record(const Digest& d, const BlobSource& source) {
  if (source.domain.empty() || source.path.empty() || source.domain.find('\n') != std::string::npos ||
      source.path.find('\n') != std::string::npos) {
    return FailInvalid("blob source: bad repository " + source.domain + "/" + source.path);
  }
  for (const BlobSource& s : Lookup(d)) {
    if (s.domain == source.domain && s.path == source.path) return {};
  }
  TRY(MkdirAll(dir_, 0700));
  std::string path = dir_ + "/" + d.hex();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno("open " + path);
  // One write per line: O_APPEND keeps concurrent writers' lines whole.
  std::string line = source.domain + "/" + source.path + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return FailErrno("write " + path);
  }
  return {};
}

std::vector<BlobSource> BlobSources::Lookup(const Digest& d) const {
  std::vector<BlobSource> out;
  auto text = ReadFile(dir_ + "/" + d.hex());
  if (!text) return out;
  for (const std::string& line : Split(*text, '\n')) {
    size_t slash = line.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == line.size()) continue;
    BlobSource s{line.substr(0, slash), line.substr(slash + 1)};
    bool dup = std::any_of(out.begin(), out.end(),
                           [&](const BlobSource& o) { return o.domain == s.domain && o.path == s.path; });
    if (!dup) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace moor::image
