// Manifests and indexes (OCI image-spec and Docker schema2): kind detection,
// strict parsing of what a consumer relies on, canonical serialisation.
#include "image/core/manifest.h"

#include "image/core/json_fields.h"

namespace moor::image {
namespace {

using detail::DumpCanonical;
using detail::Fields;
using detail::json;
using detail::ParseJsonText;

constexpr std::string_view kSchema1Unsigned = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kSchema1Error =
    "schema1 manifests are not supported: push the image again with a current Docker or moor";

bool IsManifestType(std::string_view t) {
  return t == media::kOciManifest || t == media::kDockerManifest;
}
bool IsIndexType(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerManifestList;
}
bool IsSchema1Type(std::string_view t) {
  return t == media::kDockerSchema1Signed || t == kSchema1Unsigned;
}

// "application/json; charset=utf-8" → "application/json".
std::string_view BareMediaType(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
    content_type.remove_suffix(1);
  }
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  return content_type;
}

Result<void> ParseDescriptor(const Fields& f, Descriptor& d) {
  TRY(f.RequiredStr("mediaType", d.media_type));
  TRY(f.RequiredDigest("digest", d.digest));
  if (!f.Get("size")) return f.Missing("size");
  TRY(f.Int64("size", d.size));
  if (d.size < 0) return f.Bad("size", "must not be negative");
  TRY(f.Strings("urls", d.urls));
  TRY(f.StringMap("annotations", d.annotations));
  TRY(f.Child("platform", false, [&](const Fields& pf) -> Result<void> {
    Platform p;
    if (!pf.Get("os")) return pf.Missing("os");
    if (!pf.Get("architecture")) return pf.Missing("architecture");
    TRY(pf.Str("os", p.os));
    TRY(pf.Str("architecture", p.architecture));
    TRY(pf.Str("variant", p.variant));
    TRY(pf.Str("os.version", p.os_version));
    d.platform = std::move(p);
    return {};
  }));
  return {};
}

json DescriptorJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) {
    json p = json::object();
    p["os"] = d.platform->os;
    p["architecture"] = d.platform->architecture;
    if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
    if (!d.platform->os_version.empty()) p["os.version"] = d.platform->os_version;
    j["platform"] = std::move(p);
  }
  return j;
}

// schemaVersion must be 2; 1 is the legacy signed format.
Result<int> SchemaVersion(const Fields& f) {
  if (!f.Get("schemaVersion")) return f.Missing("schemaVersion");
  int v = 0;
  TRY(f.Int("schemaVersion", v));
  if (v == 1) return FailInvalid(std::string(kSchema1Error));
  if (v != 2) return f.Bad("schemaVersion", "must be 2, not " + std::to_string(v));
  return v;
}

Result<json> ParseObject(std::string_view text, std::string_view what) {
  json j = TRY(ParseJsonText(text, what));
  if (!j.is_object()) return FailInvalid(std::string(what) + ": expected a JSON object");
  return j;
}

}  // namespace

Result<Compression> LayerCompression(std::string_view media_type) {
  static constexpr std::string_view kUncompressed[] = {
      media::kOciLayer,
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.docker.image.rootfs.diff.tar",
  };
  static constexpr std::string_view kGzip[] = {
      media::kOciLayerGzip,
      media::kOciLayerNondistGzip,
      media::kDockerLayerGzip,
      media::kDockerLayerForeignGzip,
  };
  static constexpr std::string_view kZstd[] = {
      media::kOciLayerZstd,
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  };
  for (auto t : kUncompressed) {
    if (media_type == t) return Compression::kNone;
  }
  for (auto t : kGzip) {
    if (media_type == t) return Compression::kGzip;
  }
  for (auto t : kZstd) {
    if (media_type == t) return Compression::kZstd;
  }
  return FailInvalid("layer media type \"" + std::string(media_type) +
                     "\" is not supported (want an OCI or Docker tar layer, uncompressed, gzip or zstd)");
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

Result<ManifestKind> DetectManifestKind(std::string_view content_type, std::string_view text) {
  std::string_view ct = BareMediaType(content_type);
  if (IsManifestType(ct)) return ManifestKind::kManifest;
  if (IsIndexType(ct)) return ManifestKind::kIndex;
  if (IsSchema1Type(ct)) return FailInvalid(std::string(kSchema1Error));

  json j = TRY(ParseObject(text, "manifest"));
  auto mt = j.find("mediaType");
  if (mt != j.end() && mt->is_string()) {
    const auto& t = mt->get_ref<const std::string&>();
    if (IsManifestType(t)) return ManifestKind::kManifest;
    if (IsIndexType(t)) return ManifestKind::kIndex;
    if (IsSchema1Type(t)) return FailInvalid(std::string(kSchema1Error));
  }
  auto sv = j.find("schemaVersion");
  if (sv != j.end() && sv->is_number_integer() && sv->get<int64_t>() == 1) {
    return FailInvalid(std::string(kSchema1Error));
  }
  if (j.contains("manifests")) return ManifestKind::kIndex;
  if (j.contains("layers") || j.contains("config")) return ManifestKind::kManifest;
  return FailInvalid("manifest: neither an image manifest nor an index (no \"layers\" or \"manifests\")");
}

Result<Manifest> ParseManifest(std::string_view text) {
  json j = TRY(ParseObject(text, "manifest"));
  Fields f(j, "");
  Manifest m;
  auto parse = [&]() -> Result<void> {
    TRY(f.Str("mediaType", m.media_type));
    if (IsSchema1Type(m.media_type)) return FailInvalid(std::string(kSchema1Error));
    m.schema_version = TRY(SchemaVersion(f));
    if (IsIndexType(m.media_type))
      return f.Bad("mediaType", "\"" + m.media_type + "\" is an index, not a manifest");
    if (!m.media_type.empty() && !IsManifestType(m.media_type)) {
      return f.Bad("mediaType", "\"" + m.media_type + "\" is not an image manifest type");
    }
    TRY(f.Child("config", true, [&](const Fields& cf) { return ParseDescriptor(cf, m.config); }));
    if (!f.Get("layers")) return f.Missing("layers");
    TRY(f.Each("layers", true, [&](const Fields& lf) -> Result<void> {
      Descriptor d;
      TRY(ParseDescriptor(lf, d));
      m.layers.push_back(std::move(d));
      return {};
    }));
    TRY(f.StringMap("annotations", m.annotations));
    return {};
  };
  TRY_CTX(parse(), "manifest");
  return m;
}

Result<Index> ParseIndex(std::string_view text) {
  json j = TRY(ParseObject(text, "index"));
  Fields f(j, "");
  Index idx;
  auto parse = [&]() -> Result<void> {
    TRY(f.Str("mediaType", idx.media_type));
    if (IsSchema1Type(idx.media_type)) return FailInvalid(std::string(kSchema1Error));
    idx.schema_version = TRY(SchemaVersion(f));
    if (IsManifestType(idx.media_type)) {
      return f.Bad("mediaType", "\"" + idx.media_type + "\" is a manifest, not an index");
    }
    if (!idx.media_type.empty() && !IsIndexType(idx.media_type)) {
      return f.Bad("mediaType", "\"" + idx.media_type + "\" is not an index type");
    }
    TRY(f.Each("manifests", true, [&](const Fields& mf) -> Result<void> {
      Descriptor d;
      TRY(ParseDescriptor(mf, d));
      idx.manifests.push_back(std::move(d));
      return {};
    }));
    TRY(f.StringMap("annotations", idx.annotations));
    return {};
  };
  TRY_CTX(parse(), "index");
  return idx;
}

std::string SerializeManifest(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = m.schema_version;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  j["config"] = DescriptorJson(m.config);
  json layers = json::array();
  for (const auto& l : m.layers) layers.push_back(DescriptorJson(l));
  j["layers"] = std::move(layers);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return DumpCanonical(j);
}

std::string SerializeIndex(const Index& i) {
  json j = json::object();
  j["schemaVersion"] = i.schema_version;
  if (!i.media_type.empty()) j["mediaType"] = i.media_type;
  json manifests = json::array();
  for (const auto& d : i.manifests) manifests.push_back(DescriptorJson(d));
  j["manifests"] = std::move(manifests);
  if (!i.annotations.empty()) j["annotations"] = i.annotations;
  return DumpCanonical(j);
}

std::vector<Digest> ChainIds(std::span<const Digest> diff_ids) {
  std::vector<Digest> out;
  out.reserve(diff_ids.size());
  for (const auto& d : diff_ids) {
    if (out.empty()) {
      out.push_back(d);
    } else {
      out.push_back(Sha256Of(out.back().str() + " " + d.str()));
    }
  }
  return out;
}

}  // namespace moor::image
