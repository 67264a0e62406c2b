// ImportRootfs (`moor image import`): a rootfs tarball becomes a one-layer
// image. The tar is recompressed to gzip once (hashing both the compressed
// blob and the uncompressed diff_id on the way) into a scratch file next to
// the store, then committed as a blob.
#include <unistd.h>

#include "image/archive/layer_writer.h"
#include "image/core/reference.h"
#include "image/gc.h"
#include "image/transfer_archive.h"
#include "image/transfer_changes.h"
#include "image/transfer_util.h"

namespace moor::image {

namespace {
constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}  // namespace

Result<Digest> ImportRootfs(ImageService& svc, int fd, const ImportOptions& opts) {
  ContentStore& store = svc.content();
  // Everything that can be wrong with the options fails before the copy.
  std::optional<Reference> name;
  if (!opts.name.empty()) name = TRY(Reference::Parse(opts.name));
  ImageConfig config;
  config.config.env.push_back(kDefaultPath);
  for (auto& change : opts.changes) TRY(transfer::ApplyChange(config.config, change));

  // The blobs are unnamed until the end: keep gc out meanwhile.
  GcLock gc_lock = TRY(GcLock::Acquire(svc.root(), GcLock::Mode::kShared));
  UniqueFd tmp = TRY(transfer::OpenScratchFile(store));
  LayerBlob layer = TRY_CTX(Recompress(fd, tmp.get(), Compression::kGzip), "read the rootfs tar");
  if (lseek(tmp.get(), 0, SEEK_SET) < 0) return FailErrno("rewind the layer");
  Digest blob = TRY_CTX(store.WriteBlobFromFd(tmp.get(), layer.digest), "store the layer");

  Platform platform = opts.platform ? *opts.platform : HostPlatform();
  config.created = transfer::NowRfc3339();
  config.architecture = platform.architecture;
  config.os = platform.os;
  config.variant = platform.variant;
  config.diff_ids = {layer.diff_id};
  HistoryEntry history;
  history.created = config.created;
  history.created_by = "moor image import";
  history.comment = opts.message;
  config.history.push_back(history);
  std::string config_json = SerializeImageConfig(config);
  Digest config_digest = TRY_CTX(store.WriteBlob(config_json), "store the config");

  Manifest m;
  m.media_type = std::string(media::kDockerManifest);
  m.config.media_type = std::string(media::kDockerConfig);
  m.config.digest = config_digest;
  m.config.size = static_cast<int64_t>(config_json.size());
  Descriptor layer_desc;
  layer_desc.media_type = std::string(media::kDockerLayerGzip);
  layer_desc.digest = blob;
  layer_desc.size = layer.size;
  m.layers.push_back(layer_desc);
  Digest manifest = TRY_CTX(store.WriteBlob(SerializeManifest(m)), "store the manifest");
  if (name) {
    TRY(svc.Name(name->String(), manifest, m.media_type));
  } else {
    TRY(svc.RecordUnnamed(manifest, m.media_type));
  }
  return config_digest;
}

}  // namespace moor::image
