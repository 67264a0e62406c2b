#include "image/image_service.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace moor::image {

namespace {

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// "sha256:<hex…>" or a bare hex prefix of at least 4 characters.
std::optional<std::string> IdPrefix(std::string_view s) {
  if (s.starts_with("sha256:")) s.remove_prefix(7);
  if (s.size() >= 4 && s.size() <= 64 && IsHex(s)) return std::string(s);
  return std::nullopt;
}

std::unexpected<Error> NoSuchImage(const std::string& what) {
  return FailInvalid("no such image: " + what + " (pull it with `moor pull " + what + "` or build it)");
}

}  // namespace

bool IsUnnamedRecord(const std::string& record_name) { return record_name.starts_with("sha256:"); }

Result<ImageService> ImageService::Open(const std::string& root, RegistryOptions registry) {
  auto content = TRY_CTX(ContentStore::Open(root + "/content"), "open image store");
  auto names = TRY_CTX(ImageNames::Open(root + "/images"), "open image store");
  auto snaps = TRY_CTX(Snapshotter::Open(root + "/snapshots"), "open image store");
  return ImageService(root, std::move(content), std::move(names), std::move(snaps), std::move(registry));
}

namespace {
Result<ResolvedImage> Load(const ContentStore& content, ImageRecord rec) {
  auto mbytes = TRY_CTX(content.ReadBlob(rec.manifest), "image " + rec.name + ": manifest");
  auto manifest = TRY_CTX(ParseManifest(mbytes), "image " + rec.name);
  auto cbytes = TRY_CTX(content.ReadBlob(manifest.config.digest), "image " + rec.name + ": config");
  auto config = TRY_CTX(ParseImageConfig(cbytes), "image " + rec.name);
  return ResolvedImage{std::move(rec), std::move(manifest), std::move(config)};
}
}  // namespace

Result<ResolvedImage> ImageService::Resolve(const std::string& ref_or_id) const {
  if (ref_or_id.empty()) return FailInvalid("no image given");
  auto ref = Reference::Parse(ref_or_id);
  if (ref) {
    if (!ref->tag.empty()) {
      auto rec = TRY(names_.Get(ref->String()));
      // A name with both tag and digest must match the digest too.
      if (rec && (!ref->digest || *ref->digest == rec->manifest || (rec->index && *ref->digest == *rec->index))) {
        return Load(content_, std::move(*rec));
      }
    }
    if (ref->digest) {
      for (auto& rec : TRY(names_.List())) {
        Reference have = TRY(Reference::Parse(rec.name));
        if (have.Repository() != ref->Repository()) continue;
        if (rec.manifest == *ref->digest || (rec.index && *rec.index == *ref->digest)) {
          return Load(content_, std::move(rec));
        }
      }
    }
  }
  if (auto prefix = IdPrefix(ref_or_id)) {
    auto found = TRY(names_.FindById(*prefix));
    if (!found.empty()) {
      // Several names may share one ID: any of them describes the same image.
      return Load(content_, std::move(found.front()));
    }
  }
  if (!ref) return Fail(std::move(ref.error()));
  return NoSuchImage(ref_or_id);
}

Result<ImageRecord> ImageService::Name(const std::string& name, const Digest& manifest_digest,
                                       const std::string& media_type, std::optional<Digest> index,
                                       std::vector<std::string> repo_digests) {
  auto ref = TRY(Reference::Parse(name));
  auto mbytes = TRY_CTX(content_.ReadBlob(manifest_digest), "name image " + name);
  auto manifest = TRY_CTX(ParseManifest(mbytes), "name image " + name);
  ImageRecord rec;
  rec.name = ref.String();
  rec.manifest = manifest_digest;
  rec.manifest_media_type = media_type.empty() ? manifest.media_type : media_type;
  rec.index = std::move(index);
  rec.config = manifest.config.digest;
  rec.created_at = NowRfc3339();
  rec.repo_digests = std::move(repo_digests);
  // Keep the registry digests an existing record of this image already had.
  if (auto old = TRY(names_.Get(rec.name)); old && old->config == rec.config) {
    for (auto& d : old->repo_digests) {
      if (std::find(rec.repo_digests.begin(), rec.repo_digests.end(), d) == rec.repo_digests.end()) {
        rec.repo_digests.push_back(d);
      }
    }
  }
  TRY(names_.Set(rec));
  TRY(names_.Remove(rec.config.str()));  // no longer unnamed
  return rec;
}

Result<ImageRecord> ImageService::RecordUnnamed(const Digest& manifest_digest, const std::string& media_type) {
  auto mbytes = TRY_CTX(content_.ReadBlob(manifest_digest), "record image");
  auto manifest = TRY_CTX(ParseManifest(mbytes), "record image");
  // An image that already has a name needs no unnamed record.
  for (auto& r : TRY(names_.FindById(manifest.config.digest.hex()))) {
    if (!IsUnnamedRecord(r.name)) return r;
  }
  ImageRecord rec;
  rec.name = manifest.config.digest.str();
  rec.manifest = manifest_digest;
  rec.manifest_media_type = media_type.empty() ? manifest.media_type : media_type;
  rec.config = manifest.config.digest;
  rec.created_at = NowRfc3339();
  TRY(names_.Set(rec));
  return rec;
}

Result<void> ImageService::Tag(const std::string& source, const std::string& target) {
  auto img = TRY(Resolve(source));
  auto ref = TRY_CTX(Reference::Parse(target), "tag");
  if (ref.digest) return FailInvalid("tag " + target + ": a tag cannot contain a digest");
  ImageRecord rec = img.record;
  rec.name = ref.String();
  rec.created_at = NowRfc3339();
  rec.repo_digests.clear();
  TRY(names_.Set(rec));
  TRY(names_.Remove(rec.config.str()));  // no longer unnamed
  return {};
}

Result<std::vector<std::string>> ImageService::Remove(const std::string& ref_or_id, bool force) {
  std::vector<std::string> removed;
  if (auto ref = Reference::Parse(ref_or_id); ref && !ref->tag.empty()) {
    if (TRY(names_.Remove(ref->String()))) {
      removed.push_back(ref->Familiar());
      return removed;
    }
  }
  auto prefix = IdPrefix(ref_or_id);
  if (!prefix) return NoSuchImage(ref_or_id);
  auto found = TRY(names_.FindById(*prefix));
  if (found.empty()) return NoSuchImage(ref_or_id);
  Digest id = found.front().config;
  for (auto& r : found) {
    if (r.config != id) {
      return FailInvalid("image ID prefix " + *prefix + " is ambiguous: give more characters");
    }
  }
  if (found.size() > 1 && !force) {
    return FailInvalid("image " + id.Short() + " is referenced by " + std::to_string(found.size()) +
                       " names: remove them by name, or use -f to remove all");
  }
  for (auto& r : found) {
    TRY(names_.Remove(r.name));
    removed.push_back(IsUnnamedRecord(r.name) ? r.name : TRY(Reference::Parse(r.name)).Familiar());
  }
  return removed;
}

Result<std::vector<ImageService::Summary>> ImageService::List() const {
  std::vector<Summary> out;
  for (auto& rec : TRY(names_.List())) {
    auto img = Load(content_, rec);
    Summary s;
    s.name = IsUnnamedRecord(rec.name) ? "" : TRY(Reference::Parse(rec.name)).Familiar();
    s.id = rec.config;
    s.manifest = rec.manifest;
    if (img) {
      s.size = img->manifest.config.size;
      for (auto& l : img->manifest.layers) s.size += l.size;
      s.created = img->config.created;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::string> ImageService::InspectJson(const std::string& ref_or_id) const {
  auto img = TRY(Resolve(ref_or_id));
  using nlohmann::json;
  std::vector<std::string> repo_tags;
  std::set<std::string> repo_digests;
  for (auto& rec : TRY(names_.FindById(img.record.config.hex()))) {
    if (IsUnnamedRecord(rec.name)) continue;
    repo_tags.push_back(TRY(Reference::Parse(rec.name)).Familiar());
    repo_digests.insert(rec.repo_digests.begin(), rec.repo_digests.end());
  }
  // The config as stored is already in Docker's shape: reuse its fields.
  auto cfg = json::parse(TRY(content_.ReadBlob(img.record.config)), nullptr, false);
  if (cfg.is_discarded()) return FailInvalid("image " + ref_or_id + ": config is not JSON");
  int64_t size = 0;
  json layers = json::array();
  for (auto& l : img.manifest.layers) size += l.size;
  for (auto& d : img.config.diff_ids) layers.push_back(d.str());
  json out = {
      {"Id", img.record.config.str()},
      {"RepoTags", repo_tags},
      {"RepoDigests", repo_digests},
      {"Created", img.config.created},
      {"Author", img.config.author},
      {"Architecture", img.config.architecture},
      {"Os", img.config.os},
      {"Config", cfg.value("config", json::object())},
      {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
      {"Size", size},
      {"Manifest", {{"Digest", img.record.manifest.str()}, {"MediaType", img.record.manifest_media_type}}},
  };
  if (!img.config.variant.empty()) out["Variant"] = img.config.variant;
  return out.dump(4);
}

Result<std::vector<std::string>> ImageService::Layers(const ResolvedImage& img) {
  return snapshots_.Unpack(content_, img.manifest, img.config);
}

}  // namespace moor::image
