// Snapshotter::Unpack: layers from the content store into snapshots, each
// extraction verified (blob digest and diff_id) before it becomes visible.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "image/snapshot/layout.h"
#include "image/snapshot/snapshotter.h"

namespace moor::image {

using namespace snapshot_internal;

namespace {

// Extracts one layer into a fresh tmp dir and renames it into place. The tmp
// dir is flock'ed for the duration so Clean() in another process skips it.
Result<void> UnpackOne(const Snapshotter& snaps, const ContentStore& store, const Descriptor& layer,
                       const Digest& diff_id, const Digest& chain_id, ExtractOptions opts) {
  std::string tmp = TRY(snaps.MakeTemp());
  auto run = [&]() -> Result<void> {
    UniqueFd held = TRY(TryLockDir(tmp));
    if (!held) return FailInvalid("scratch dir " + tmp + " is locked by someone else");
    std::string fs = tmp + "/fs";
    if (::mkdir(fs.c_str(), 0755) != 0) return FailErrno("mkdir " + fs);
    UniqueFd root(::open(fs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return FailErrno("open " + fs);
    UniqueFd blob = TRY(store.Open(layer.digest));
    ExtractResult res = TRY(ExtractLayer(blob.get(), root.get(), opts));
    if (opts.hash_blob && res.blob_digest != layer.digest)
      return FailInvalid("blob digest mismatch: expected " + layer.digest.str() + ", read " +
                         res.blob_digest.str() + "; remove the image and pull it again");
    if (res.diff_id != diff_id)
      return FailInvalid("diff_id mismatch: the image config expects " + diff_id.str() +
                         ", the layer's uncompressed content is " + res.diff_id.str());
    Meta meta{.diff_id = diff_id,
              .blob = layer.digest,
              .size = res.uncompressed_bytes,
              .unpacked_at = NowRfc3339()};
    TRY(WriteMeta(tmp, meta));
    std::string dest = SnapshotDir(snaps.root(), chain_id);
    if (::rename(tmp.c_str(), dest.c_str()) != 0) return FailErrno("rename into " + dest);
    return {};
  };
  auto r = run();
  if (!r) (void)RemoveTree(tmp);
  return r;
}

}  // namespace

Result<std::string> Snapshotter::UnpackLayer(const ContentStore& store, const Manifest& manifest,
                                             const ImageConfig& config, size_t index,
                                             const ExtractOptions& opts) {
  if (manifest.layers.size() != config.diff_ids.size())
    return FailInvalid("unpack: the manifest has " + std::to_string(manifest.layers.size()) +
                       " layers but the image config lists " + std::to_string(config.diff_ids.size()) +
                       " diff_ids");
  if (index >= manifest.layers.size())
    return FailInvalid("unpack: layer " + std::to_string(index) + " does not exist (the image has " +
                       std::to_string(manifest.layers.size()) + ")");
  Digest chain_id = ChainIds(std::span<const Digest>(config.diff_ids).first(index + 1)).back();
  const Descriptor& layer = manifest.layers[index];
  std::string ctx = "unpack layer " + std::to_string(index) + " (" + layer.digest.str() + ")";
  if (!Has(chain_id)) {
    // Whoever holds the lock unpacks; a waiter finds the snapshot made.
    UniqueFd lock = TRY_CTX(LockFile(LockPath(root_, chain_id)), ctx);
    if (!Has(chain_id)) TRY_CTX(UnpackOne(*this, store, layer, config.diff_ids[index], chain_id, opts), ctx);
  }
  return Path(chain_id);
}

Result<std::vector<std::string>> Snapshotter::Unpack(const ContentStore& store, const Manifest& manifest,
                                                     const ImageConfig& config, const ExtractOptions& opts,
                                                     const std::function<void(size_t, uint64_t)>& progress) {
  if (manifest.layers.size() != config.diff_ids.size())
    return FailInvalid("unpack: the manifest has " + std::to_string(manifest.layers.size()) +
                       " layers but the image config lists " + std::to_string(config.diff_ids.size()) +
                       " diff_ids");
  std::vector<Digest> chain = ChainIds(config.diff_ids);
  // Every layer unpacks into its own directory, so layers are independent:
  // they are extracted in parallel, one worker per core (decompression and
  // file creation are CPU-bound).
  auto unpack = [&](size_t i) -> Result<void> {
    if (Has(chain[i])) return {};
    ExtractOptions o = opts;
    if (progress) {
      auto outer = opts.progress;
      o.progress = [&progress, outer, i](uint64_t bytes) {
        if (outer) outer(bytes);
        progress(i, bytes);
      };
    }
    TRY(UnpackLayer(store, manifest, config, i, o));
    return {};
  };
  size_t workers = std::min<size_t>(chain.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < chain.size();) {
      {
        std::lock_guard l(mu);
        if (first_error) return;  // stop starting new layers after a failure
      }
      auto r = unpack(i);
      if (!r) {
        std::lock_guard l(mu);
        if (!first_error) first_error = std::move(r.error());
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (first_error) return Fail(std::move(*first_error));
  std::vector<std::string> dirs;
  for (auto& c : chain) dirs.push_back(Path(c));
  return dirs;
}

}  // namespace moor::image
