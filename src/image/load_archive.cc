// LoadArchive: `docker save` archives and OCI image layouts (both, as Docker
// 25 writes them), read in one streaming pass. Entries come in any order, so
// every file is kept first (small ones in memory, blobs/sha256/<hex> straight
// into the store with their digest checked, large others spooled into the
// store) and manifest.json / index.json are interpreted at the end.
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"
#include "image/archive/layer_writer.h"
#include "image/core/reference.h"
#include "image/gc.h"
#include "image/transfer_archive.h"
#include "image/transfer_util.h"

namespace moor::image {
namespace {

using transfer::ArchiveErrorText;

// Entries up to this size stay in memory (JSON documents, small layers).
constexpr int64_t kInMemoryMax = 8 << 20;
constexpr size_t kChunk = 1 << 20;
constexpr int kMaxLinkHops = 16;
constexpr int kMaxIndexDepth = 4;

constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";
constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";

// "./a//b/../c" -> "a/c"; never climbs above the archive root.
std::string CleanPath(std::string_view p) {
  std::vector<std::string> parts;
  for (auto& part : Split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return Join(parts, "/");
}

std::string DirName(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

// "blobs/sha256/<64 hex>" -> the digest it names.
std::optional<Digest> BlobPathDigest(const std::string& path) {
  constexpr std::string_view kPrefix = "blobs/sha256/";
  if (!StartsWith(path, kPrefix)) return std::nullopt;
  auto d = Digest::Parse("sha256:" + path.substr(kPrefix.size()));
  if (!d) return std::nullopt;
  return *d;
}

struct Entry {
  std::optional<std::string> data;  // small entries
  std::optional<Digest> digest;     // entries already in the store
  std::string link;                 // hard or symbolic link: the target path
};

Entry LinkTo(std::string target) {
  Entry e;
  e.link = std::move(target);
  return e;
}

class Contents {
 public:
  explicit Contents(ContentStore& store) : store_(store) {}

  Result<void> ReadAll(int fd);
  bool Has(const std::string& path) const { return entries_.contains(path); }
  // The entry's bytes (JSON documents).
  Result<std::string> Text(const std::string& path);
  // Makes sure the entry is a blob in the store; returns its digest.
  Result<Digest> Store(const std::string& path);

 private:
  Result<Entry*> Find(const std::string& path);
  Result<Digest> IngestBlob(archive* a, const std::string& name, const Digest& expected, int64_t size);
  Result<Digest> Spool(archive* a, const std::string& name);
  ContentStore& store_;
  std::map<std::string, Entry> entries_;
};

Result<std::string> ReadEntryData(archive* a, const std::string& name, int64_t size) {
  std::string data;
  data.reserve(static_cast<size_t>(size));
  char buf[64 << 10];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return FailInvalid("read archive entry " + name + ": " + ArchiveErrorText(a));
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(data.size()) > kInMemoryMax) {
      return FailInvalid("archive entry " + name + " is larger than its header says");
    }
  }
  return data;
}

Result<Digest> Contents::IngestBlob(archive* a, const std::string& name, const Digest& expected,
                                    int64_t size) {
  auto ingest = TRY_CTX(store_.BeginIngest(expected, size), "archive entry " + name);
  if (ingest->AlreadyPresent()) {
    archive_read_data_skip(a);
    return expected;
  }
  // The archive has the whole blob: start over rather than resume.
  if (ingest->Offset() > 0) TRY(ingest->Reset());
  Sha256 hash;
  std::vector<char> buf(kChunk);
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) return FailInvalid("read archive entry " + name + ": " + ArchiveErrorText(a));
    if (n == 0) break;
    hash.Update(buf.data(), static_cast<size_t>(n));
    TRY_CTX(ingest->Write(buf.data(), static_cast<size_t>(n)), "archive entry " + name);
  }
  Digest got = hash.Finish();
  if (got != expected) {
    (void)ingest->Reset();
    return FailInvalid("archive entry " + name + " has digest " + got.str());
  }
  TRY_CTX(ingest->Commit(), "archive entry " + name);
  return expected;
}

// A large entry whose digest is not known yet: hash it into a scratch file,
// then move it into the store (skipped when the store already has it).
Result<Digest> Contents::Spool(archive* a, const std::string& name) {
  UniqueFd tmp = TRY(transfer::OpenScratchFile(store_));
  Sha256 hash;
  std::vector<char> buf(kChunk);
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) return FailInvalid("read archive entry " + name + ": " + ArchiveErrorText(a));
    if (n == 0) break;
    hash.Update(buf.data(), static_cast<size_t>(n));
    TRY_CTX(transfer::WriteAll(tmp.get(), buf.data(), static_cast<size_t>(n)), "spool " + name);
  }
  Digest d = hash.Finish();
  if (store_.Has(d)) return d;
  if (lseek(tmp.get(), 0, SEEK_SET) < 0) return FailErrno("spool " + name);
  return TRY_CTX(store_.WriteBlobFromFd(tmp.get(), d), "archive entry " + name);
}

Result<void> Contents::ReadAll(int fd) {
  transfer::ArchiveReader a(archive_read_new());
  if (!a) return FailInvalid("archive_read_new failed");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), fd, 1 << 16) != ARCHIVE_OK) {
    return FailInvalid("the input is not a tar archive (" + ArchiveErrorText(a.get()) + ")");
  }
  bool first = true;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (first) return FailInvalid("the input is not a tar archive (" + ArchiveErrorText(a.get()) + ")");
      return FailInvalid("read archive: " + ArchiveErrorText(a.get()));
    }
    first = false;
    const char* raw = archive_entry_pathname(e);
    if (!raw) continue;
    std::string name = CleanPath(raw);
    if (name.empty()) continue;
    if (const char* target = archive_entry_hardlink(e)) {
      entries_[name] = LinkTo(CleanPath(target));
      continue;
    }
    auto type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
      // docker save links a layer seen twice: "<id2>/layer.tar -> ../<id1>/layer.tar"
      std::string target = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
      entries_[name] = LinkTo(CleanPath(target.starts_with('/') ? target : DirName(name) + "/" + target));
      continue;
    }
    if (type != AE_IFREG) continue;
    int64_t size = archive_entry_size(e);
    Entry entry;
    if (auto d = BlobPathDigest(name)) {
      entry.digest = TRY(IngestBlob(a.get(), name, *d, size));
    } else if (size <= kInMemoryMax) {
      entry.data = TRY(ReadEntryData(a.get(), name, size));
    } else {
      entry.digest = TRY(Spool(a.get(), name));
    }
    entries_[name] = std::move(entry);
  }
  if (first) return FailInvalid("the archive is empty");
  return {};
}

Result<Entry*> Contents::Find(const std::string& path) {
  std::string p = CleanPath(path);
  for (int hop = 0; hop < kMaxLinkHops; ++hop) {
    auto it = entries_.find(p);
    if (it == entries_.end()) return FailInvalid("the archive has no file " + path);
    if (it->second.link.empty()) return &it->second;
    p = it->second.link;
  }
  return FailInvalid("archive entry " + path + ": too many levels of links");
}

Result<std::string> Contents::Text(const std::string& path) {
  Entry* e = TRY(Find(path));
  if (e->data) return *e->data;
  return store_.ReadBlob(*e->digest);
}

Result<Digest> Contents::Store(const std::string& path) {
  Entry* e = TRY(Find(path));
  if (!e->digest) e->digest = TRY_CTX(store_.WriteBlob(*e->data), "store " + path);
  return *e->digest;
}

// An image found in the archive, before it is named.
struct Pending {
  Digest manifest;
  std::string media_type;
  std::optional<Digest> index;
  Digest config;
  std::vector<std::string> names;  // full references, in archive order
};

void AddName(Pending& p, const std::string& name) {
  for (auto& n : p.names) {
    if (n == name) return;
  }
  p.names.push_back(name);
}

Result<void> CheckPresent(const ContentStore& store, const Digest& d, std::string_view what,
                          const Digest& manifest) {
  if (store.Has(d)) return {};
  return FailInvalid("manifest " + manifest.str() + ": " + std::string(what) + " " + d.str() +
                     " is not in the archive");
}

// index.json entry -> the platform manifest it leads to (nested indexes are
// followed, choosing this machine's platform).
Result<Pending> ResolveDescriptor(const ContentStore& store, const Descriptor& desc, int depth) {
  if (depth > kMaxIndexDepth) return FailInvalid("index.json: indexes nested too deep");
  if (!store.Has(desc.digest)) {
    return FailInvalid("index.json names " + desc.digest.str() + ", which is not in the archive");
  }
  std::string json = TRY(store.ReadBlob(desc.digest));
  ManifestKind kind = TRY_CTX(DetectManifestKind(desc.media_type, json), desc.digest.str());
  if (kind == ManifestKind::kIndex) {
    Index index = TRY_CTX(ParseIndex(json), "index " + desc.digest.str());
    std::optional<Descriptor> chosen;
    if (auto sel = SelectPlatform(index, HostPlatform()); sel && store.Has(sel->digest)) chosen = *sel;
    if (!chosen) {
      // Exports often carry one platform only: take the first one present.
      for (auto& m : index.manifests) {
        bool attestation = m.platform && m.platform->os == "unknown";
        if (!attestation && store.Has(m.digest)) {
          chosen = m;
          break;
        }
      }
    }
    if (!chosen) {
      return FailInvalid("index " + desc.digest.str() + " has no manifest for " +
                         PlatformString(HostPlatform()) + " in the archive");
    }
    Pending p = TRY(ResolveDescriptor(store, *chosen, depth + 1));
    if (!p.index) p.index = desc.digest;
    return p;
  }
  Manifest m = TRY_CTX(ParseManifest(json), "manifest " + desc.digest.str());
  TRY(CheckPresent(store, m.config.digest, "config", desc.digest));
  for (auto& l : m.layers) TRY(CheckPresent(store, l.digest, "layer", desc.digest));
  Pending p;
  p.manifest = desc.digest;
  p.media_type = !m.media_type.empty()     ? m.media_type
                 : !desc.media_type.empty() ? desc.media_type
                                            : std::string(media::kOciManifest);
  p.config = m.config.digest;
  return p;
}

// Names from index.json annotations: the containerd name is a full
// reference; ref.name is a full reference or (usually) only a tag, which
// names nothing without a repository.
std::optional<std::string> NameFromAnnotations(const std::map<std::string, std::string>& ann) {
  if (auto it = ann.find(std::string(kAnnotationImageName)); it != ann.end() && !it->second.empty()) {
    return it->second;
  }
  if (auto it = ann.find(std::string(kAnnotationRefName)); it != ann.end()) {
    const std::string& v = it->second;
    if (v.find('/') != std::string::npos || v.find(':') != std::string::npos) return v;
  }
  return std::nullopt;
}

Result<void> ReadOciLayout(Contents& contents, const ContentStore& store, std::vector<Pending>& out) {
  std::string json = TRY(contents.Text("index.json"));
  Index index = TRY_CTX(ParseIndex(json), "index.json");
  for (auto& desc : index.manifests) {
    Pending p = TRY(ResolveDescriptor(store, desc, 0));
    if (auto name = NameFromAnnotations(desc.annotations)) AddName(p, *name);
    bool merged = false;
    for (auto& q : out) {
      if (q.manifest == p.manifest) {
        for (auto& n : p.names) AddName(q, n);
        merged = true;
      }
    }
    if (!merged) out.push_back(std::move(p));
  }
  return {};
}

Result<Digest> DiffIdOfCompressed(ContentStore& store, const Digest& blob) {
  UniqueFd in = TRY(store.Open(blob));
  UniqueFd devnull(open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!devnull) return FailErrno("open /dev/null");
  LayerBlob lb = TRY_CTX(Recompress(in.get(), devnull.get(), Compression::kNone), "layer " + blob.str());
  return lb.diff_id;
}

std::string_view OciLayerType(Compression c) {
  switch (c) {
    case Compression::kGzip: return media::kOciLayerGzip;
    case Compression::kZstd: return media::kOciLayerZstd;
    case Compression::kNone: break;
  }
  return media::kOciLayer;
}

struct SaveItem {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

Result<std::vector<SaveItem>> ParseDockerManifest(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return FailInvalid("manifest.json: expected a JSON array");
  std::vector<SaveItem> items;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& it = j[i];
    std::string at = "manifest.json: [" + std::to_string(i) + "]";
    if (!it.is_object()) return FailInvalid(at + ": expected an object");
    SaveItem item;
    if (!it.contains("Config") || !it["Config"].is_string()) {
      return FailInvalid(at + ".Config: expected a string");
    }
    item.config = it["Config"].get<std::string>();
    if (it.contains("RepoTags") && !it["RepoTags"].is_null()) {
      if (!it["RepoTags"].is_array()) return FailInvalid(at + ".RepoTags: expected an array");
      for (auto& t : it["RepoTags"]) {
        if (!t.is_string()) return FailInvalid(at + ".RepoTags: expected strings");
        item.repo_tags.push_back(t.get<std::string>());
      }
    }
    if (!it.contains("Layers") || !it["Layers"].is_array()) {
      return FailInvalid(at + ".Layers: expected an array");
    }
    for (auto& l : it["Layers"]) {
      if (!l.is_string()) return FailInvalid(at + ".Layers: expected strings");
      item.layers.push_back(l.get<std::string>());
    }
    items.push_back(std::move(item));
  }
  return items;
}

// docker save's manifest.json: one item per image; the layers are tars
// (uncompressed from `docker save`, possibly compressed from other tools or
// Docker 25, whose paths point into blobs/). Images the OCI layout already
// described only gain the RepoTags.
Result<void> ReadDockerSave(Contents& contents, ContentStore& store, std::vector<Pending>& out) {
  std::vector<SaveItem> items = TRY(ParseDockerManifest(TRY(contents.Text("manifest.json"))));
  for (size_t i = 0; i < items.size(); ++i) {
    const SaveItem& item = items[i];
    std::string at = "manifest.json: [" + std::to_string(i) + "]";
    Digest config = TRY_CTX(contents.Store(item.config), at + ".Config");
    std::vector<std::string> names;
    for (auto& t : item.repo_tags) {
      Reference ref = TRY_CTX(Reference::Parse(t), at + ".RepoTags");
      names.push_back(ref.String());
    }
    Pending* existing = nullptr;
    for (auto& p : out) {
      if (p.config == config) existing = &p;
    }
    if (existing) {
      for (auto& n : names) AddName(*existing, n);
      continue;
    }
    ImageConfig cfg = TRY_CTX(ParseImageConfig(TRY(store.ReadBlob(config))), at + ": config " + item.config);
    if (cfg.diff_ids.size() != item.layers.size()) {
      return FailInvalid(at + ": " + std::to_string(item.layers.size()) + " layers, but the config has " +
                         std::to_string(cfg.diff_ids.size()) + " diff_ids");
    }
    Manifest m;
    m.media_type = std::string(media::kOciManifest);
    m.config.media_type = std::string(media::kOciConfig);
    m.config.digest = config;
    m.config.size = TRY(store.Size(config));
    for (size_t l = 0; l < item.layers.size(); ++l) {
      std::string lat = at + ".Layers[" + std::to_string(l) + "] (" + item.layers[l] + ")";
      Digest blob = TRY_CTX(contents.Store(item.layers[l]), lat);
      Compression c = TRY_CTX(transfer::BlobCompression(store, blob), lat);
      Digest diff_id = c == Compression::kNone ? blob : TRY_CTX(DiffIdOfCompressed(store, blob), lat);
      if (diff_id != cfg.diff_ids[l]) {
        return FailInvalid(lat + ": the layer's diff_id is " + diff_id.str() + ", but the config says " +
                           cfg.diff_ids[l].str());
      }
      Descriptor desc;
      desc.media_type = std::string(OciLayerType(c));
      desc.digest = blob;
      desc.size = TRY(store.Size(blob));
      m.layers.push_back(std::move(desc));
    }
    Pending p;
    p.manifest = TRY(store.WriteBlob(SerializeManifest(m)));
    p.media_type = m.media_type;
    p.config = config;
    p.names = std::move(names);
    out.push_back(std::move(p));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> LoadArchive(ImageService& svc, int fd, ProgressSink& progress) {
  ContentStore& store = svc.content();
  // Blobs written here are unnamed until the end: keep gc out meanwhile.
  GcLock gc_lock = TRY(GcLock::Acquire(svc.root(), GcLock::Mode::kShared));
  Contents contents(store);
  TRY(contents.ReadAll(fd));
  bool oci = contents.Has("index.json");
  bool docker = contents.Has("manifest.json");
  if (!oci && !docker) {
    return FailInvalid("the archive has neither manifest.json nor index.json (not made by "
                       "`docker save`, `moor image save` or an OCI tool; images saved by Docker "
                       "before 1.10 are not supported)");
  }
  std::vector<Pending> images;
  if (oci) TRY(ReadOciLayout(contents, store, images));
  if (docker) TRY(ReadDockerSave(contents, store, images));

  std::vector<std::string> loaded;
  for (auto& p : images) {
    for (auto& name : p.names) {
      Reference ref = TRY(Reference::Parse(name));
      TRY_CTX(svc.Name(ref.String(), p.manifest, p.media_type, p.index), "name " + ref.Familiar());
      progress.Message("Loaded image: " + ref.Familiar());
      loaded.push_back(ref.Familiar());
    }
    if (p.names.empty()) {
      TRY_CTX(svc.RecordUnnamed(p.manifest, p.media_type), "record " + p.config.str());
      progress.Message("Loaded image ID: " + p.config.str());
      loaded.push_back(p.config.str());
    }
  }
  progress.Flush();
  return loaded;
}

}  // namespace moor::image
