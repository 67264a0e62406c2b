// ReleaseStore uploads: blob packs, large blobs in parts, tree packs (with the
// closure check). Verified before anything gets a name.
#include <sys/stat.h>

#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "deploy/store/pack.h"
#include "deploy/store/release_store.h"
#include "deploy/store/store_impl.h"
#include "deploy/tree/tree.h"
#include "image/gc.h"

namespace moor::deploy {

using store_detail::CorruptUpload;
using store_detail::kDeployAgain;
using store_detail::NextPackEntry;

namespace {

// Shared: a gc waits until the write is done (gc.h).
Result<image::GcLock> SharedGcLock(const image::ContentStore& content) {
  return image::GcLock::Acquire(content.root(), image::GcLock::Mode::kShared);
}

}  // namespace

Result<PackResult> ReleaseStore::PutBlobPack(std::string_view pack) {
  image::GcLock lock = TRY(SharedGcLock(impl_->content));
  // Parse, verify, then store everything before the first bad entry, so
  // nothing after a bad entry is stored. Verifying and storing run on two
  // threads for a pack of many entries.
  std::vector<store_detail::PackEntry> entries;
  std::optional<Error> parse_error;
  for (size_t pos = 0; pos < pack.size();) {
    auto e = NextPackEntry(pack, &pos);
    if (!e) {
      parse_error = std::move(e.error());
      break;
    }
    entries.push_back(std::move(*e));
  }
  const size_t n = entries.size();
  const size_t workers = n >= 64 ? 2 : 1;
  auto in_parallel = [&](const std::function<void(size_t)>& f) {
    std::vector<std::thread> extra;
    for (size_t w = 1; w < workers; ++w) {
      extra.emplace_back([&, w] {
        for (size_t i = w; i < n; i += workers) f(i);
      });
    }
    for (size_t i = 0; i < n; i += workers) f(i);
    for (auto& t : extra) t.join();
  };
  std::vector<image::Digest> got(n);
  in_parallel([&](size_t i) { got[i] = image::Sha256Of(entries[i].bytes); });
  size_t good = 0;
  while (good < n && got[good] == entries[good].digest) ++good;
  std::vector<Result<bool>> added(good, Result<bool>(false));
  in_parallel([&](size_t i) {
    if (i < good) added[i] = impl_->content.WriteBlobUnsynced(entries[i].bytes, entries[i].digest);
  });
  PackResult out;
  for (size_t i = 0; i < good; ++i) {
    if (!added[i]) return Fail(std::move(added[i].error()).Wrap("store blob " + entries[i].digest.str()));
    out.stored.push_back(entries[i].digest);
    if (*added[i]) {
      ++out.files;
      out.bytes += static_cast<int64_t>(entries[i].bytes.size());
    }
  }
  if (good < n) return Fail(CorruptUpload(entries[good].digest, got[good]));
  if (parse_error) return Fail(std::move(*parse_error));
  return out;
}

Result<int64_t> ReleaseStore::PutBlobPart(const image::Digest& d, int64_t offset, int64_t total, std::string_view data,
                                          int64_t* current_offset) {
  if (d.empty()) return FailInvalid("upload: no blob digest given");
  if (total < 0 || offset < 0 || offset > total || static_cast<int64_t>(data.size()) > total - offset) {
    return FailInvalid("blob " + d.str() + ": bad part (offset " + std::to_string(offset) + ", " +
                       std::to_string(data.size()) + " bytes, total " + std::to_string(total) + ")");
  }
  image::GcLock lock = TRY(SharedGcLock(impl_->content));
  auto ingest = TRY_CTX(impl_->content.BeginIngest(d, total), "upload blob " + d.str());
  if (ingest->AlreadyPresent()) {
    if (current_offset) *current_offset = ingest->Offset();
    return ingest->Offset();
  }
  if (ingest->Offset() != offset) {
    if (current_offset) *current_offset = ingest->Offset();
    return Fail(Error(ESPIPE, "blob " + d.str() + ": part at offset " + std::to_string(offset) + ", but the node has " +
                                  std::to_string(ingest->Offset()) + " bytes of it; resume at " +
                                  std::to_string(ingest->Offset())));
  }
  TRY_CTX(ingest->Write(data.data(), data.size()), "upload blob " + d.str());
  int64_t now = ingest->Offset();
  if (current_offset) *current_offset = now;
  if (now == total) {
    if (auto c = ingest->Commit(); !c) {
      if (current_offset) *current_offset = ingest->Offset();  // 0 when the bytes were wrong and dropped
      return Fail(Error(c.error().errnum(), c.error().message() + "; " + std::string(kDeployAgain)));
    }
  }
  return now;
}

Result<PackResult> ReleaseStore::PutTreePack(std::string_view pack, std::vector<image::Digest>* missing) {
  if (missing) missing->clear();
  image::GcLock lock = TRY(SharedGcLock(impl_->content));
  PackResult out;
  for (size_t pos = 0; pos < pack.size();) {
    store_detail::PackEntry e = TRY(NextPackEntry(pack, &pos));
    image::Digest got = image::Sha256Of(e.bytes);
    if (got != e.digest) return Fail(CorruptUpload(e.digest, got));
    if (Has(e.digest)) {  // present: its closure was checked when it was stored
      out.stored.push_back(e.digest);
      continue;
    }
    Tree tree = TRY_CTX(ParseTree(e.bytes), "tree " + e.digest.str() + " (" + std::string(kDeployAgain) + ")");
    std::optional<Error> first;
    for (const auto& entry : tree.entries) {
      int64_t size = store_detail::BlobSizeAt(impl_->blobs_fd.get(), entry.digest);
      if (size < 0) {
        if (missing) missing->push_back(entry.digest);
        if (!first) {
          first = Error(ENOENT, "tree " + e.digest.str() + ": missing blob " + entry.digest.str() +
                                    "; upload it first, then the tree");
        }
        continue;
      }
      if (entry.kind != EntryKind::kDir && size != entry.size && !first) {
        first = Error::Invalid("tree " + e.digest.str() + ": entry \"" + entry.name + "\" says " +
                               std::to_string(entry.size) + " bytes, blob " + entry.digest.str() + " has " +
                               std::to_string(size) + "; " + std::string(kDeployAgain));
      }
    }
    if (first) return Fail(std::move(*first));
    TRY_CTX(impl_->content.WriteBlobUnsynced(e.bytes, e.digest), "store tree " + e.digest.str());
    out.stored.push_back(e.digest);
    ++out.files;
    out.bytes += static_cast<int64_t>(e.bytes.size());
  }
  return out;
}

}  // namespace moor::deploy
