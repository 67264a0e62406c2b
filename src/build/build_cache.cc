#include "build/build_cache.h"

#include <nlohmann/json.hpp>

#include "common/file.h"

namespace moor::build {

std::optional<CacheEntry> BuildCache::Get(const image::Digest& key) const {
  auto text = ReadFile(dir_ + "/" + key.hex() + ".json");
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  CacheEntry e;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
  e.created = str("created");
  if (j.contains("layer")) {
    auto d = image::Digest::Parse(str("layer"));
    auto diff = image::Digest::Parse(str("diff_id"));
    if (!d || !diff || !j.contains("size") || !j["size"].is_number_integer()) return std::nullopt;
    e.has_layer = true;
    e.layer.digest = *d;
    e.layer.size = j["size"].get<int64_t>();
    e.layer.media_type = str("media_type");
    e.diff_id = *diff;
  }
  return e;
}

Result<void> BuildCache::Put(const image::Digest& key, const CacheEntry& e) const {
  nlohmann::json j;
  j["created"] = e.created;
  if (e.has_layer) {
    j["layer"] = e.layer.digest.str();
    j["size"] = e.layer.size;
    j["media_type"] = e.layer.media_type;
    j["diff_id"] = e.diff_id.str();
  }
  TRY_CTX(MkdirAll(dir_, 0700), "build cache");
  return WriteFileAtomic(dir_ + "/" + key.hex() + ".json", j.dump());
}

KeyBuilder::KeyBuilder(const image::Digest& parent) {
  h_.Update(parent.str() + "\n");
}

KeyBuilder& KeyBuilder::Add(std::string_view part) {
  h_.Update(std::to_string(part.size()) + ":");
  h_.Update(part);
  h_.Update("\n");
  return *this;
}

image::Digest KeyBuilder::Finish() {
  return h_.Finish();
}

}  // namespace moor::build
