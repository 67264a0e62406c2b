// moor push: layers and config the registry lacks are mounted from another
// repository of the same registry when we know one holds them, else
// uploaded; then the manifest is put under the tag.
#include <memory>

#include "common/log.h"
#include "image/blob_sources.h"
#include "image/pull.h"
#include "image/registry/parallel.h"
#include "image/registry/registry_client.h"

namespace moor::image {
namespace {

struct PushContext {
  RegistryClient& client;
  const ContentStore& store;
  BlobSources& sources;
  const Reference& ref;
  ProgressSink& progress;
};

Result<void> PushOne(PushContext& ctx, const Descriptor& d) {
  const std::string id = d.digest.Short();
  if (TRY(ctx.client.BlobExists(d.digest))) {
    ctx.progress.Status(id, "Layer already exists");
    return {};
  }
  for (const BlobSource& s : ctx.sources.Lookup(d.digest)) {
    if (s.domain != ctx.ref.domain || s.path == ctx.ref.path) continue;
    if (TRY(ctx.client.MountBlob(d.digest, s.path))) {
      ctx.progress.Status(id, "Mounted from " + s.path);
      return {};
    }
  }
  ctx.progress.Status(id, "Pushing");
  TransferProgress on_bytes = [&](int64_t done, int64_t total) { ctx.progress.Bytes(id, done, total); };
  TRY(ctx.client.PushBlob(d, ctx.store, on_bytes));
  ctx.progress.Status(id, "Pushed");
  return {};
}

}  // namespace

Result<Digest> Push(ImageService& svc, const std::string& ref_str, const PushOptions& opts, ProgressSink& progress) {
  Reference ref = TRY(Reference::Parse(ref_str));
  const std::string shown = ref.Familiar();
  ResolvedImage img = TRY(svc.Resolve(ref_str));
  const ContentStore& store = svc.content();
  const Digest& manifest_digest = img.record.manifest;
  std::string manifest_bytes = TRY_CTX(store.ReadBlob(manifest_digest), "push " + shown + ": manifest");

  // Every blob must be here before anything is sent.
  std::vector<Descriptor> blobs = img.manifest.layers;
  for (const Descriptor& d : blobs) {
    if (!store.Has(d.digest)) {
      return FailInvalid("push " + shown + ": layer " + d.digest.str() +
                         " is not in the local content store (pull or load the image again)");
    }
  }
  if (!store.Has(img.manifest.config.digest)) {
    return FailInvalid("push " + shown + ": config " + img.manifest.config.digest.str() +
                       " is not in the local content store (pull or load the image again)");
  }

  auto client = TRY(RegistryClient::Create(ref, svc.registry_options()));
  BlobSources sources(store);
  PushContext ctx{*client, store, sources, ref, progress};
  progress.Message("The push refers to repository [" + ref.Repository() + "]");
  for (const Descriptor& d : blobs) progress.Status(d.digest.Short(), "Preparing");
  TRY_CTX(registry::RunParallel(blobs.size(), opts.parallel,
                                [&](size_t i) -> Result<void> { return PushOne(ctx, blobs[i]); }),
          "push " + shown);
  // The config last among the blobs: a manifest may only refer to what exists.
  TRY_CTX(PushOne(ctx, img.manifest.config), "push " + shown + ": config");

  std::string media_type = img.record.manifest_media_type;
  if (media_type.empty()) media_type = img.manifest.media_type;
  if (media_type.empty()) media_type = std::string(media::kOciManifest);
  std::string tag = ref.tag.empty() ? manifest_digest.str() : ref.tag;
  TRY_CTX(client->PutManifest(tag, manifest_bytes, media_type), "push " + shown);

  const BlobSource here{ref.domain, ref.path};
  blobs.push_back(img.manifest.config);
  for (const Descriptor& d : blobs) {
    if (auto r = sources.Record(d.digest, here); !r) log::Debug("record blob source: " + r.error().message());
  }
  progress.Flush();
  progress.Message(tag + ": digest: " + manifest_digest.str() + " size: " + std::to_string(manifest_bytes.size()));
  return manifest_digest;
}

}  // namespace moor::image
