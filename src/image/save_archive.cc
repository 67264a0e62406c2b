// SaveArchive: one tar holding an OCI image layout (oci-layout, index.json,
// blobs/sha256/…) and, beside it, docker save's manifest.json whose paths
// point into blobs/ — the layout Docker 25 writes. Docker 20.10's `docker
// load` reads it too: it untars the archive, follows manifest.json and
// decompresses each layer file (gzip detected by magic), so layers are saved
// as stored, without recompression. Output is deterministic: fixed entry
// order, owner 0:0, mtime 0.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "image/core/reference.h"
#include "image/transfer_archive.h"
#include "image/transfer_util.h"

namespace moor::image {
namespace {

using transfer::ArchiveErrorText;

struct SavedImage {
  Digest manifest;
  std::string media_type;
  int64_t manifest_size = 0;
  Digest config;
  std::vector<Digest> layers;
  std::vector<Digest> diff_ids;
  std::vector<Reference> names;
};

class TarOut {
 public:
  Result<void> Open(int fd) {
    a_.reset(archive_write_new());
    if (!a_) return FailInvalid("archive_write_new failed");
    if (archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK ||
        archive_write_open_fd(a_.get(), fd) != ARCHIVE_OK) {
      return FailInvalid("write archive: " + ArchiveErrorText(a_.get()));
    }
    return {};
  }

  Result<void> Dir(const std::string& name) { return Header(name, AE_IFDIR, 0755, 0); }

  Result<void> File(const std::string& name, std::string_view data) {
    TRY(Header(name, AE_IFREG, 0644, static_cast<int64_t>(data.size())));
    return Data(data.data(), data.size());
  }

  // Copies a blob from the store, re-hashing it: a corrupt blob must not
  // leave this machine under its old name.
  Result<void> Blob(const ContentStore& store, const Digest& d) {
    int64_t size = TRY(store.Size(d));
    UniqueFd fd = TRY(store.Open(d));
    std::string name = "blobs/sha256/" + d.hex();
    TRY(Header(name, AE_IFREG, 0444, size));
    Sha256 hash;
    std::vector<char> buf(1 << 20);
    int64_t total = 0;
    for (;;) {
      ssize_t n = read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("read blob " + d.str());
      if (n == 0) break;
      total += n;
      if (total > size) break;
      hash.Update(buf.data(), static_cast<size_t>(n));
      TRY(Data(buf.data(), static_cast<size_t>(n)));
    }
    if (total != size || hash.Finish() != d) {
      return FailInvalid("blob " + d.str() + " in the store is damaged (remove the image and pull it again)");
    }
    return {};
  }

  Result<void> Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) {
      return FailInvalid("write archive: " + ArchiveErrorText(a_.get()));
    }
    return {};
  }

 private:
  Result<void> Header(const std::string& name, unsigned type, unsigned perm, int64_t size) {
    transfer::ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_size(e.get(), size);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) {
      return FailInvalid("write archive entry " + name + ": " + ArchiveErrorText(a_.get()));
    }
    return {};
  }

  Result<void> Data(const char* p, size_t n) {
    while (n > 0) {
      la_ssize_t w = archive_write_data(a_.get(), p, n);
      if (w <= 0) return FailInvalid("write archive: " + ArchiveErrorText(a_.get()));
      p += w;
      n -= static_cast<size_t>(w);
    }
    return {};
  }

  transfer::ArchiveWriter a_;
};

// The ref names the image (rather than its ID) when it is the record's name.
std::optional<Reference> NameOfRef(const std::string& ref, const ImageRecord& rec) {
  if (rec.name.empty()) return std::nullopt;
  auto parsed = Reference::Parse(ref);
  if (!parsed || parsed->String() != rec.name) return std::nullopt;
  return *parsed;
}

Result<std::vector<SavedImage>> Collect(ImageService& svc, const std::vector<std::string>& refs) {
  std::vector<SavedImage> images;
  for (auto& ref : refs) {
    ResolvedImage img = TRY(svc.Resolve(ref));
    std::optional<Reference> name = NameOfRef(ref, img.record);
    SavedImage* target = nullptr;
    for (auto& s : images) {
      if (s.manifest == img.record.manifest) target = &s;
    }
    if (!target) {
      SavedImage s;
      s.manifest = img.record.manifest;
      s.media_type = !img.record.manifest_media_type.empty() ? img.record.manifest_media_type
                     : !img.manifest.media_type.empty()      ? img.manifest.media_type
                                                             : std::string(media::kOciManifest);
      s.manifest_size = TRY(svc.content().Size(s.manifest));
      s.config = img.manifest.config.digest;
      for (auto& l : img.manifest.layers) s.layers.push_back(l.digest);
      s.diff_ids = img.config.diff_ids;
      images.push_back(std::move(s));
      target = &images.back();
    }
    if (name) {
      bool seen = false;
      for (auto& n : target->names) seen = seen || n.String() == name->String();
      if (!seen) target->names.push_back(*name);
    }
  }
  return images;
}

std::string IndexJson(const std::vector<SavedImage>& images) {
  Index index;
  index.media_type = std::string(media::kOciIndex);
  for (auto& img : images) {
    Descriptor d;
    d.media_type = img.media_type;
    d.digest = img.manifest;
    d.size = img.manifest_size;
    if (img.names.empty()) index.manifests.push_back(d);
    for (auto& n : img.names) {
      Descriptor named = d;
      named.annotations["io.containerd.image.name"] = n.String();
      if (!n.tag.empty()) named.annotations["org.opencontainers.image.ref.name"] = n.tag;
      index.manifests.push_back(std::move(named));
    }
  }
  return SerializeIndex(index);
}

std::string BlobPath(const Digest& d) { return "blobs/sha256/" + d.hex(); }

std::string DockerManifestJson(const std::vector<SavedImage>& images) {
  auto arr = nlohmann::json::array();
  for (auto& img : images) {
    nlohmann::json item;
    item["Config"] = BlobPath(img.config);
    if (img.names.empty()) {
      item["RepoTags"] = nullptr;
    } else {
      auto tags = nlohmann::json::array();
      for (auto& n : img.names) {
        if (!n.tag.empty()) tags.push_back(n.Familiar());
      }
      item["RepoTags"] = tags;
    }
    auto layers = nlohmann::json::array();
    for (auto& l : img.layers) layers.push_back(BlobPath(l));
    item["Layers"] = layers;
    arr.push_back(item);
  }
  return arr.dump();
}

// Legacy "repositories": {"busybox": {"latest": "<top layer id>"}}. Only
// loaders older than manifest.json read it; kept because Docker writes it.
std::string RepositoriesJson(const std::vector<SavedImage>& images) {
  nlohmann::json repos = nlohmann::json::object();
  for (auto& img : images) {
    if (img.diff_ids.empty()) continue;
    for (auto& n : img.names) {
      if (n.tag.empty()) continue;
      std::string familiar = n.Familiar();
      std::string repo = familiar.substr(0, familiar.size() - n.tag.size() - 1);
      repos[repo][n.tag] = img.diff_ids.back().hex();
    }
  }
  return repos.empty() ? std::string() : repos.dump();
}

}  // namespace

Result<void> SaveArchive(ImageService& svc, const std::vector<std::string>& refs, int out_fd) {
  if (refs.empty()) return FailInvalid("no image given");
  std::vector<SavedImage> images = TRY(Collect(svc, refs));

  std::vector<Digest> blobs;
  std::set<Digest> seen;
  auto add = [&](const Digest& d) {
    if (seen.insert(d).second) blobs.push_back(d);
  };
  for (auto& img : images) {
    add(img.manifest);
    add(img.config);
    for (auto& l : img.layers) add(l);
  }

  TarOut tar;
  TRY(tar.Open(out_fd));
  TRY(tar.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  TRY(tar.Dir("blobs"));
  TRY(tar.Dir("blobs/sha256"));
  for (auto& d : blobs) TRY(tar.Blob(svc.content(), d));
  TRY(tar.File("index.json", IndexJson(images)));
  TRY(tar.File("manifest.json", DockerManifestJson(images)));
  if (std::string repos = RepositoriesJson(images); !repos.empty()) {
    TRY(tar.File("repositories", repos));
  }
  TRY(tar.Close());
  return {};
}

}  // namespace moor::image
