#include "engine/volume_manager.h"

#include <cerrno>
#include <random>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/file.h"

namespace moor::engine {

using nlohmann::json;

bool ValidObjectName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return false;
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

std::string VolumeToJson(const VolumeInfo& v) {
  json labels = json::object();
  for (const auto& [k, val] : v.labels) labels[k] = val;
  return json{{"Name", v.name},
              {"Driver", "local"},
              {"Mountpoint", v.mountpoint},
              {"CreatedAt", v.created},
              {"Labels", labels},
              {"Scope", "local"},
              {"Options", json::object()},
              {"Anonymous", v.anonymous}}
      .dump();
}

namespace {
Result<VolumeInfo> VolumeFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    VolumeInfo v;
    v.name = j.at("Name");
    v.mountpoint = j.at("Mountpoint");
    v.created = j.value("CreatedAt", "");
    v.labels = j.value("Labels", std::map<std::string, std::string>{});
    v.anonymous = j.value("Anonymous", false);
    return v;
  } catch (const json::exception& e) {
    return FailInvalid(std::string("volume record is damaged: ") + e.what());
  }
}
}  // namespace

Result<VolumeInfo> VolumeManager::Create(const std::string& name_in,
                                         const std::map<std::string, std::string>& labels, bool anonymous) {
  std::string name = name_in;
  if (name.empty()) {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    const char* hex = "0123456789abcdef";
    name.assign(64, '0');
    for (auto& c : name) c = hex[rng() & 15];
    anonymous = true;
  }
  if (!ValidObjectName(name)) {
    return FailInvalid("invalid volume name \"" + name + "\": use letters, digits, '_', '.' and '-'");
  }
  if (auto o = TRY(store_.Get(store::Kind::kVolume, name))) return VolumeFromJson(o->json);
  VolumeInfo v;
  v.name = name;
  v.mountpoint = cfg_.VolumesDir() + "/" + name + "/_data";
  v.created = NowRfc3339();
  v.labels = labels;
  v.anonymous = anonymous;
  TRY(MkdirAll(v.mountpoint, 0755));
  auto r = store_.Insert(store::Kind::kVolume, {name, name, VolumeToJson(v)});
  if (!r) {
    if (r.error().errnum() == EEXIST) return Get(name);  // made concurrently: same volume
    (void)RemoveAll(cfg_.VolumesDir() + "/" + name);
    return Fail(r.error());
  }
  return v;
}

Result<VolumeInfo> VolumeManager::Get(const std::string& name) {
  auto o = TRY(store_.Get(store::Kind::kVolume, name));
  if (!o) return Fail(Error(ENOENT, "no such volume: " + name + " (see `moor volume ls`)"));
  return VolumeFromJson(o->json);
}

Result<std::vector<VolumeInfo>> VolumeManager::List() {
  std::vector<VolumeInfo> out;
  for (auto& o : TRY(store_.List(store::Kind::kVolume))) out.push_back(TRY(VolumeFromJson(o.json)));
  return out;
}

Result<void> VolumeManager::Remove(const std::string& name, bool in_use) {
  auto v = TRY(Get(name));
  if (in_use) {
    return Fail(Error(EBUSY, "volume " + name + " is in use by a container: remove the container first"));
  }
  TRY(store_.Remove(store::Kind::kVolume, name));
  return RemoveAll(cfg_.VolumesDir() + "/" + name);
}

}  // namespace moor::engine
