// The image service: one object over the content store, the names and the
// snapshots under moor's root (default /var/lib/moor):
//   <root>/content    ContentStore (blobs, ingests)
//   <root>/images     ImageNames (names.json)
//   <root>/snapshots  Snapshotter (unpacked layers)
// Operations live in their own files: pull.h, push.h, transfer_archive.h
// (load/save/import), gc.h; listing, inspection, tagging and removal here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/core/manifest.h"
#include "image/core/reference.h"
#include "image/registry/registry_client.h"
#include "image/snapshot/snapshotter.h"
#include "image/store/content_store.h"
#include "image/store/image_names.h"

namespace moor::image {

inline constexpr const char* kDefaultRoot = "/var/lib/moor";

// Records of unnamed images are keyed by their ID: "sha256:<hex>".
bool IsUnnamedRecord(const std::string& record_name);

struct ResolvedImage {
  ImageRecord record;  // for an ID lookup: the first name with that ID (name may be empty)
  Manifest manifest;
  ImageConfig config;
};

class ImageService {
 public:
  static Result<ImageService> Open(const std::string& root, RegistryOptions registry = {});

  const std::string& root() const { return root_; }
  ContentStore& content() { return content_; }
  const ContentStore& content() const { return content_; }
  ImageNames& names() { return names_; }
  Snapshotter& snapshots() { return snapshots_; }
  const RegistryOptions& registry_options() const { return registry_; }

  // "busybox", "busybox:1.36", "docker.io/library/busybox@sha256:…", an image
  // ID ("sha256:…" or ≥ 4 hex characters of it). Error when unknown:
  // "no such image: NAME (pull it with `moor pull NAME`)".
  Result<ResolvedImage> Resolve(const std::string& ref_or_id) const;

  // Records an image (manifest + config already in the store) under a name.
  Result<ImageRecord> Name(const std::string& name, const Digest& manifest, const std::string& media_type,
                           std::optional<Digest> index = {}, std::vector<std::string> repo_digests = {});

  // Records an image that has no name (load of an untagged image, import
  // without a name, a build without -t) so it is listed as <none>:<none>, can
  // be used by ID and is kept by gc until removed. Its record's name is the
  // image ID ("sha256:<hex>"); naming the image later drops that record.
  Result<ImageRecord> RecordUnnamed(const Digest& manifest, const std::string& media_type);

  // tag SOURCE TARGET
  Result<void> Tag(const std::string& source, const std::string& target);
  // rmi: removes the name (or, for an ID, every name of it unless several and
  // !force); the blobs stay until gc. Returns the names removed.
  Result<std::vector<std::string>> Remove(const std::string& ref_or_id, bool force);

  struct Summary {
    std::string name;  // "" for an untagged image
    Digest id;         // config digest
    Digest manifest;
    int64_t size = 0;  // sum of compressed layer sizes + config
    std::string created;
  };
  Result<std::vector<Summary>> List() const;

  // inspect: a JSON document shaped like `docker image inspect`'s
  // (Id, RepoTags, RepoDigests, Created, Architecture, Os, Config, RootFS, Size…).
  Result<std::string> InspectJson(const std::string& ref_or_id) const;

  // Snapshot dirs (lowest first), unpacking what is missing.
  Result<std::vector<std::string>> Layers(const ResolvedImage& img);

 private:
  ImageService(std::string root, ContentStore c, ImageNames n, Snapshotter s, RegistryOptions r)
      : root_(std::move(root)), content_(std::move(c)), names_(std::move(n)), snapshots_(std::move(s)),
        registry_(std::move(r)) {}
  std::string root_;
  ContentStore content_;
  ImageNames names_;
  Snapshotter snapshots_;
  RegistryOptions registry_;
};

}  // namespace moor::image
