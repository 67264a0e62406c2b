// moor pull: tag → (index →) manifest → config + layers → name → unpack.
#include "image/pull.h"

#include <atomic>
#include <memory>

#include "common/log.h"
#include "image/blob_sources.h"
#include "image/gc.h"
#include "image/registry/parallel.h"
#include "image/registry/registry_client.h"

namespace moor::image {
namespace {

// Fetches one blob unless the store has it, reporting progress under its
// short digest. Returns true when bytes were downloaded.
Result<bool> FetchReported(RegistryClient& client, ContentStore& store, const Descriptor& d, ProgressSink& progress) {
  const std::string id = d.digest.Short();
  if (store.Has(d.digest)) {
    progress.Status(id, "Already exists");
    return false;
  }
  progress.Status(id, "Downloading");
  std::atomic<bool> verifying{false};
  TransferProgress on_bytes = [&](int64_t done, int64_t total) {
    progress.Bytes(id, done, total);
    // The digest check happens when the last byte is in (Commit).
    if (total > 0 && done >= total && !verifying.exchange(true)) progress.Status(id, "Verifying Checksum");
  };
  TRY(client.FetchBlob(d, store, on_bytes));
  progress.Status(id, "Download complete");
  return true;
}

}  // namespace

Result<ImageRecord> Pull(ImageService& svc, const std::string& ref_str, const PullOptions& opts,
                         ProgressSink& progress) {
  Reference ref = TRY(Reference::Parse(ref_str));
  const std::string shown = ref.Familiar();
  auto client = TRY(RegistryClient::Create(ref, svc.registry_options()));
  ContentStore& store = svc.content();
  BlobSources sources(store);
  const BlobSource source{ref.domain, ref.path};

  FetchedManifest top = TRY_CTX(client->GetManifest(ref.ManifestRef()), "pull " + shown);
  // After the first answer, so an unreachable registry prints only the error.
  progress.Message((ref.tag.empty() ? ref.digest->str() : ref.tag) + ": Pulling from " + ref.path);
  ManifestKind kind = TRY_CTX(DetectManifestKind(top.media_type, top.bytes), "pull " + shown);

  // gc must not sweep blobs written here before the name refers to them.
  GcLock gc_lock = TRY(GcLock::Acquire(svc.root(), GcLock::Mode::kShared));
  bool downloaded = false;
  std::optional<Digest> index_digest;
  FetchedManifest chosen = top;
  if (kind == ManifestKind::kIndex) {
    Index index = TRY_CTX(ParseIndex(top.bytes), "pull " + shown);
    Platform want = opts.platform ? *opts.platform : HostPlatform();
    Descriptor d = TRY_CTX(SelectPlatform(index, want), "pull " + shown);
    if (!store.Has(top.digest)) downloaded = true;
    TRY_CTX(store.WriteBlob(top.bytes, top.digest), "store index");
    index_digest = top.digest;
    chosen = TRY_CTX(client->GetManifest(d.digest.str()), "pull " + shown + " (" + PlatformString(want) + ")");
    ManifestKind inner = TRY(DetectManifestKind(chosen.media_type, chosen.bytes));
    if (inner != ManifestKind::kManifest) {
      return FailInvalid("pull " + shown + ": the index entry for " + PlatformString(want) +
                         " is another index (nested indexes are not supported)");
    }
    if (chosen.media_type.empty() || chosen.media_type == "application/json") chosen.media_type = d.media_type;
  }
  Manifest manifest = TRY_CTX(ParseManifest(chosen.bytes), "pull " + shown);
  if (!store.Has(chosen.digest)) downloaded = true;
  TRY_CTX(store.WriteBlob(chosen.bytes, chosen.digest), "store manifest");
  if (chosen.media_type.empty() || chosen.media_type == "application/json") {
    chosen.media_type = manifest.media_type.empty() ? std::string(media::kOciManifest) : manifest.media_type;
  }

  // The config first: it says how many layers to expect.
  if (!store.Has(manifest.config.digest)) {
    TRY_CTX(client->FetchBlob(manifest.config, store, nullptr), "pull " + shown + ": config");
    downloaded = true;
  }
  std::string config_bytes = TRY_CTX(store.ReadBlob(manifest.config.digest), "pull " + shown + ": config");
  ImageConfig config = TRY_CTX(ParseImageConfig(config_bytes), "pull " + shown + ": config");
  if (config.diff_ids.size() != manifest.layers.size()) {
    return FailInvalid("pull " + shown + ": the manifest has " + std::to_string(manifest.layers.size()) +
                       " layers but the config lists " + std::to_string(config.diff_ids.size()) + " diff_ids");
  }

  for (const Descriptor& l : manifest.layers) {
    if (!store.Has(l.digest)) progress.Status(l.digest.Short(), "Waiting");
  }
  // One flag per layer (distinct elements: no data race between workers).
  std::vector<char> fetched(manifest.layers.size(), 0);
  // Each layer is unpacked as soon as its blob is committed, while other
  // layers still download: snapshots are keyed by chain ids, which the config
  // already gives, so a layer does not wait for the ones below it.
  auto fetch_and_unpack = [&](size_t i) -> Result<void> {
    const Descriptor& layer = manifest.layers[i];
    fetched[i] = TRY(FetchReported(*client, store, layer, progress));
    if (!opts.unpack) return {};
    if (fetched[i]) progress.Status(layer.digest.Short(), "Extracting");
    // A blob this pull just committed was hashed on the way in (Commit checks
    // its digest): extraction does not hash it a second time. Blobs that were
    // already in the store are verified again as they are read.
    ExtractOptions xo;
    xo.hash_blob = !fetched[i];
    TRY_CTX(svc.snapshots().UnpackLayer(store, manifest, config, i, xo), "unpack");
    if (fetched[i]) progress.Status(layer.digest.Short(), "Pull complete");
    return {};
  };
  TRY_CTX(registry::RunParallel(manifest.layers.size(), opts.parallel, fetch_and_unpack), "pull " + shown);
  for (char f : fetched) downloaded = downloaded || f;

  // Remember where the blobs live, for cross-repository mounts on push.
  std::vector<Digest> blobs = {manifest.config.digest};
  for (const Descriptor& l : manifest.layers) blobs.push_back(l.digest);
  for (const Digest& d : blobs) {
    if (auto r = sources.Record(d, source); !r) log::Debug("record blob source: " + r.error().message());
  }

  auto previous = TRY(svc.names().Get(ref.String()));
  std::vector<std::string> repo_digests = {ref.Repository() + "@" + top.digest.str()};
  ImageRecord record =
      TRY(svc.Name(ref.String(), chosen.digest, chosen.media_type, index_digest, std::move(repo_digests)));
  bool up_to_date = !downloaded && previous && previous->manifest == chosen.digest;

  progress.Flush();
  progress.Message("Digest: " + top.digest.str());
  progress.Message(
      std::string(up_to_date ? "Status: Image is up to date for " : "Status: Downloaded newer image for ") + shown);
  return record;
}

}  // namespace moor::image
