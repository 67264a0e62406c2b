// Mark and sweep over the content store and the snapshots (see gc.h).
#include "image/gc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>

#include <cctype>
#include <set>

#include "common/file.h"
#include "common/log.h"

namespace moor::image {

Result<GcLock> GcLock::Acquire(const std::string& root, Mode mode) {
  TRY(MkdirAll(root, 0700));
  std::string path = root + "/gc.lock";
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno("open " + path);
  int op = mode == Mode::kExclusive ? LOCK_EX : LOCK_SH;
  while (flock(fd.get(), op) != 0) {
    if (errno != EINTR) return FailErrno("lock " + path);
  }
  return GcLock(std::move(fd));
}

namespace {

struct Marks {
  std::set<Digest> blobs;
  std::set<Digest> snapshots;
};

class Marker {
 public:
  Marker(const ContentStore& store, Marks& marks) : store_(store), marks_(marks) {}

  // A config: the blob, its uncompressed layers (blob digest = diff_id) and
  // the snapshots of its chain.
  Result<void> MarkConfig(const Digest& d) {
    marks_.blobs.insert(d);
    if (!store_.Has(d)) return {};
    ImageConfig cfg = TRY_CTX(ParseImageConfig(TRY(store_.ReadBlob(d))), "config " + d.str());
    for (auto& id : cfg.diff_ids) marks_.blobs.insert(id);
    for (auto& chain : ChainIds(cfg.diff_ids)) marks_.snapshots.insert(chain);
    return {};
  }

  Result<void> MarkManifest(const Digest& d) {
    marks_.blobs.insert(d);
    if (!visited_.insert(d).second) return {};
    if (!store_.Has(d)) return {};  // a broken image: nothing of it can be found
    std::string json = TRY(store_.ReadBlob(d));
    ManifestKind kind = TRY_CTX(DetectManifestKind("", json), d.str());
    if (kind == ManifestKind::kIndex) return MarkIndex(d, json);
    Manifest m = TRY_CTX(ParseManifest(json), "manifest " + d.str());
    for (auto& l : m.layers) marks_.blobs.insert(l.digest);
    return MarkConfig(m.config.digest);
  }


 private:
  Result<void> MarkIndex(const Digest& d, const std::string& json) {
    Index idx = TRY_CTX(ParseIndex(json), "index " + d.str());
    for (auto& m : idx.manifests) {
      if (store_.Has(m.digest)) TRY(MarkManifest(m.digest));
    }
    return {};
  }

  const ContentStore& store_;
  Marks& marks_;
  std::set<Digest> visited_;
};

bool IsHex(char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); }

// Every "sha256:<64 hex>" in the text.
void ScanDigests(const std::string& text, std::set<Digest>& out) {
  constexpr std::string_view kPrefix = "sha256:";
  size_t pos = 0;
  while ((pos = text.find(kPrefix, pos)) != std::string::npos) {
    size_t start = pos + kPrefix.size();
    size_t end = start;
    while (end < text.size() && end - start < 64 && IsHex(text[end])) ++end;
    bool longer = end < text.size() && IsHex(text[end]);
    if (end - start == 64 && !longer) out.insert(Digest::FromHex(text.substr(start, 64)));
    pos = end;
  }
}

Result<std::set<Digest>> BuildCacheDigests(const std::string& root) {
  std::set<Digest> out;
  std::string dir = root + "/build-cache";
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return FailErrno("open " + dir);
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.ends_with(".json")) files.push_back(dir + "/" + name);
  }
  closedir(d);
  for (auto& f : files) {
    auto text = ReadFile(f);
    if (!text) {
      if (text.error().errnum() == ENOENT) continue;  // removed meanwhile
      return std::unexpected(std::move(text.error()));
    }
    ScanDigests(*text, out);
  }
  return out;
}

Result<Marks> Mark(ImageService& svc, const std::vector<Digest>& keep_manifests) {
  Marks marks;
  Marker marker(svc.content(), marks);
  for (auto& rec : TRY(svc.names().List())) {
    std::string ctx = "image " + rec.name;
    if (rec.index) TRY_CTX(marker.MarkManifest(*rec.index), ctx);
    TRY_CTX(marker.MarkManifest(rec.manifest), ctx);
    TRY_CTX(marker.MarkConfig(rec.config), ctx);
  }
  for (auto& d : keep_manifests) TRY_CTX(marker.MarkManifest(d), "kept manifest " + d.str());
  for (auto& d : TRY_CTX(BuildCacheDigests(svc.root()), "build cache")) {
    marks.blobs.insert(d);
    marks.snapshots.insert(d);
    // A cached config keeps its layers' snapshots (not fatal: the cache may
    // name any kind of blob).
    if (svc.content().Has(d)) {
      if (auto cfg = svc.content().ReadBlob(d, 1 << 20); cfg) {
        if (auto parsed = ParseImageConfig(*cfg); parsed && !parsed->diff_ids.empty()) {
          for (auto& c : ChainIds(parsed->diff_ids)) marks.snapshots.insert(c);
          for (auto& id : parsed->diff_ids) marks.blobs.insert(id);
        }
      }
    }
  }
  return marks;
}

}  // namespace

Result<GcReport> CollectGarbage(ImageService& svc, const std::vector<Digest>& keep_manifests) {
  GcLock lock = TRY_CTX(GcLock::Acquire(svc.root(), GcLock::Mode::kExclusive), "gc");
  Marks marks = TRY_CTX(Mark(svc, keep_manifests), "gc");
  GcReport report;
  ContentStore& store = svc.content();
  for (auto& d : store.ListBlobs()) {
    if (marks.blobs.contains(d)) continue;
    auto size = store.Size(d);
    TRY_CTX(store.Delete(d), "gc: remove blob " + d.str());
    report.blobs_removed++;
    if (size) report.bytes_freed += static_cast<uint64_t>(*size);
  }
  for (auto& chain : svc.snapshots().List()) {
    if (marks.snapshots.contains(chain)) continue;
    TRY_CTX(svc.snapshots().Remove(chain), "gc: remove snapshot " + chain.str());
    report.snapshots_removed++;
  }
  TRY_CTX(store.CleanIngests(), "gc");
  TRY_CTX(svc.snapshots().Clean(), "gc");
  return report;
}

}  // namespace moor::image
