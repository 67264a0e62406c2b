// names.json: {"images":[{record}, …]} sorted by name. Every read-modify-write
// holds an exclusive flock on names.lock, so concurrent `moor pull`s do not
// lose each other's names; readers rely on the atomic replace alone.
#include "image/store/image_names.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "common/fd.h"
#include "common/file.h"
#include "image/core/json_fields.h"

namespace moor::image {
namespace {

using detail::DumpCanonical;
using detail::Fields;
using detail::json;

using NameMap = std::map<std::string, ImageRecord>;

std::string NamesPath(const std::string& root) {
  return root + "/names.json";
}

Result<ImageRecord> ParseRecord(const Fields& f) {
  ImageRecord r;
  TRY(f.RequiredStr("name", r.name));
  TRY(f.RequiredDigest("manifest", r.manifest));
  TRY(f.Str("manifestMediaType", r.manifest_media_type));
  if (f.Get("index")) {
    Digest idx;
    TRY(f.RequiredDigest("index", idx));
    r.index = idx;
  }
  TRY(f.RequiredDigest("config", r.config));
  TRY(f.Str("createdAt", r.created_at));
  TRY(f.Strings("repoDigests", r.repo_digests));
  return r;
}

json RecordJson(const ImageRecord& r) {
  json j = json::object();
  j["name"] = r.name;
  j["manifest"] = r.manifest.str();
  if (!r.manifest_media_type.empty()) j["manifestMediaType"] = r.manifest_media_type;
  if (r.index) j["index"] = r.index->str();
  j["config"] = r.config.str();
  if (!r.created_at.empty()) j["createdAt"] = r.created_at;
  if (!r.repo_digests.empty()) j["repoDigests"] = r.repo_digests;
  return j;
}

Result<NameMap> Load(const std::string& root) {
  NameMap names;
  std::string path = NamesPath(root);
  if (!PathExists(path)) return names;
  std::string text = TRY(ReadFile(path));
  json j = TRY(detail::ParseJsonText(text, path));
  auto parse = [&]() -> Result<void> {
    if (!j.is_object()) return FailInvalid("expected a JSON object");
    Fields f(j, "");
    return f.Each("images", false, [&](const Fields& rf) -> Result<void> {
      ImageRecord r = TRY(ParseRecord(rf));
      names[r.name] = std::move(r);
      return {};
    });
  };
  TRY_CTX(parse(), path);
  return names;
}

Result<void> Save(const std::string& root, const NameMap& names) {
  json images = json::array();
  for (const auto& [name, r] : names) images.push_back(RecordJson(r));
  json j = json::object();
  j["images"] = std::move(images);
  return WriteFileDurable(NamesPath(root), DumpCanonical(j) + "\n");
}

// Holds names.lock exclusively for one read-modify-write.
Result<UniqueFd> LockNames(const std::string& root) {
  std::string path = root + "/names.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("open " + path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return FailErrno("lock " + path);
  }
  return fd;
}

}  // namespace

Result<ImageNames> ImageNames::Open(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  TRY_CTX(MkdirAll(root, 0700), "image names " + root);
  return ImageNames(std::move(root));
}

Result<void> ImageNames::Set(const ImageRecord& r) {
  if (r.name.empty()) return FailInvalid("image name: empty");
  UniqueFd lock = TRY(LockNames(root_));
  NameMap names = TRY(Load(root_));
  names[r.name] = r;
  return Save(root_, names);
}

Result<std::optional<ImageRecord>> ImageNames::Get(const std::string& name) const {
  NameMap names = TRY(Load(root_));
  auto it = names.find(name);
  if (it == names.end()) return std::optional<ImageRecord>();
  return std::optional<ImageRecord>(std::move(it->second));
}

Result<std::vector<ImageRecord>> ImageNames::List() const {
  NameMap names = TRY(Load(root_));
  std::vector<ImageRecord> out;
  out.reserve(names.size());
  for (auto& [name, r] : names) out.push_back(std::move(r));
  return out;
}

Result<bool> ImageNames::Remove(const std::string& name) {
  UniqueFd lock = TRY(LockNames(root_));
  NameMap names = TRY(Load(root_));
  if (names.erase(name) == 0) return false;
  TRY(Save(root_, names));
  return true;
}

Result<std::vector<ImageRecord>> ImageNames::FindById(const std::string& id_prefix) const {
  std::string_view prefix = id_prefix;
  if (prefix.starts_with("sha256:")) prefix.remove_prefix(7);
  bool hex = std::all_of(prefix.begin(), prefix.end(),
                         [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!hex || prefix.size() > 64) {
    return FailInvalid("image ID \"" + id_prefix + "\" is not a hex digest prefix");
  }
  if (prefix.size() < 4) {
    return FailInvalid("image ID prefix \"" + id_prefix + "\" is too short (give at least 4 hex characters)");
  }
  NameMap names = TRY(Load(root_));
  std::vector<ImageRecord> out;
  for (auto& [name, r] : names) {
    if (r.config.hex().starts_with(prefix)) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace moor::image
